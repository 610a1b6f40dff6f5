"""serving.smoke: a new model must separate normal from random pairs before it takes traffic."""

import numpy as np
import pytest

from lakewatch.serving.smoke import SmokeCheckFailed, smoke_check
from tests.aws.test_endpoint import FakeRuntime


def test_smoke_check_passes_a_model_that_separates():
    # normal pairs (ending .200+) score high, random addresses (1..254) score lower on average
    rt = FakeRuntime(score=lambda e, ip: 1.0 if ip.startswith("10.") else -1.0)
    result = smoke_check(rt, "ep", ["a"] * 50, ["10.0.0.1"] * 50)
    assert result.auc == pytest.approx(1.0) and result.pairs == 50


def test_smoke_check_refuses_a_model_that_does_not():
    rng = np.random.default_rng(0)
    rt = FakeRuntime(score=lambda e, ip: float(rng.random()))
    with pytest.raises(SmokeCheckFailed, match=r"below the required 0\.8"):
        smoke_check(rt, "ep", ["a"] * 200, ["10.0.0.1"] * 200)
    with pytest.raises(SmokeCheckFailed, match="no known-normal pairs"):
        smoke_check(rt, "ep", [], [])
