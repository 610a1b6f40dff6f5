"""``python -m bench --quick`` in groups, for the three ``tests/test_bench_quick*.py`` files:
each file runs on a worker of its own under pytest-xdist (``--dist loadfile``)."""

import re
import subprocess
import sys

from tests.conftest import REPO

GROUPS = {
    "quality": ("quality", "signin_model", "generator", "history", "extract", "sizing"),
    "model": ("model", "rcf"),
    "scoring": ("scorer", "backtest", "loadtest"),
}


def run_quick(group: str) -> str:
    """The group's benchmarks in quick mode, in one process; its output, every section
    finished."""
    names = GROUPS[group]
    proc = subprocess.run(
        [sys.executable, "-m", "bench", *names, "--quick"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-3000:]
    for name in names:
        assert re.search(rf"^  \({name}: \d+s\)$", out, re.M), f"{name} did not finish:\n{out}"
    return out
