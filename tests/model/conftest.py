"""Model test helpers live in tests/conftest.py (shared with serving and scorer tests)."""

from tests.conftest import auc_of, egress_pairs, write_csv

__all__ = ["auc_of", "egress_pairs", "write_csv"]
