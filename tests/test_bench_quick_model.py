"""``python -m bench model rcf --quick``: training, scoring and serving IP Insights, and Random
Cut Forest against IsolationForest, on small sizes (``tests/bench_quick``)."""

import re

import pytest

from tests.bench_quick import run_quick

pytestmark = pytest.mark.e2e


def test_the_model_benchmarks_run_in_quick_mode():
    out = run_quick("model")
    assert re.search(r"score rows/s .*x IsolationForest", out)  # rcf printed its ratios
    assert len(re.findall(r"^rcf AUC, ", out, re.M)) == 2  # and both feature sets' AUCs
    assert re.search(r"lakewatch train, [\d,]+ login, fixed cost\s+-?[\d.]+ s", out)
    # n/a: at 50,000 pairs 3 epochs can take no longer than 1 on a loaded machine
    assert re.search(r"lakewatch train, [\d,]+ login, positive pairs/s/epoch\s+(-?[\d,]+|n/a)", out)
    assert re.search(r"lakewatch train, [\d,]+ login, peak RSS\s+[\d,]+ MB", out)
