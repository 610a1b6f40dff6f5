"""``python -m bench scorer backtest loadtest --quick``: the real-time scorer (with the Random
Cut Forest step), the backtest and the load test on small sizes (``tests/bench_quick``)."""

import re

import pytest

from tests.bench_quick import run_quick

pytestmark = pytest.mark.e2e


def test_the_scoring_benchmarks_run_in_quick_mode():
    out = run_quick("scoring")
    assert re.search(r"records/s\s+[\d,]+\s+[\d.]+x a plain pyarrow read", out)
    assert re.search(r"peak RSS, MB\s+[\d,]+\s+the pyarrow read alone", out)
    assert re.search(
        r"scorer \+ RCF, 50k rows, peak RSS\s+[\d,]+ MB\s+\d+\.\d\dx the pair path alone", out
    )
    assert re.search(r"demo lake \(quick\): backtest\s+[\d.]+ s\s+\d+x the read", out)
    assert re.search(r"demo lake \(quick\): backtest peak RSS\s+[\d,]+ MB", out)
    assert re.search(r"loadtest, 10/s offered: objects/s\s+[\d.]+\s+[\d.]+x in-process", out)
    assert re.search(
        r"^  notifications: 16 sent, 12 scored, 4 dead-lettered .*, 0 unaccounted$", out, re.M
    )
