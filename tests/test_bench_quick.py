"""``python -m bench --quick``: every benchmark's path runs end to end on small sizes.

A smoke check of correctness, never of speed: each benchmark checks its own results (rows read,
pairs scored, models trained) and raises otherwise; this asserts every section printed its
figures and the run succeeded.
"""

import re
import subprocess
import sys

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.e2e


def test_every_benchmark_runs_in_quick_mode():
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-3000:]
    for name in ("quality", "generator", "model", "extract", "scorer", "rcf", "backtest", "sizing"):
        assert re.search(rf"^  \({name}: \d+s\)$", out, re.M), f"{name} did not finish:\n{out}"
    assert re.search(r"login\s+random\s+\d+\s+0\.\d+", out)  # quality printed its AUCs
    assert re.search(r"score rows/s .*x IsolationForest", out)  # rcf printed its ratios
    assert len(re.findall(r"^rcf AUC, ", out, re.M)) == 2  # and both feature sets' AUCs
    assert re.search(r"records/s\s+[\d,]+\s+[\d.]+x a plain pyarrow read", out)
    assert re.search(r"demo lake \(quick\): backtest\s+[\d.]+ s\s+\d+x the read", out)
    assert re.search(r"large lake \(quick\): backtest peak RSS\s+[\d,]+ MB", out)
    assert re.search(r"peak RSS, MB\s+[\d,]+\s+the pyarrow read alone", out)
    assert re.search(r"lakewatch train, 200,000 login pairs, 1 epoch\s+[\d.]+ s start-up", out)
    assert re.search(
        r"Athena scan bytes/row, flow_peers \(VPC_FLOW\)\s+[\d.]+\s+[\d.]+x the recorded", out
    )
