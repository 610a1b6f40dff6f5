"""``python -m lakewatch`` is the command line (SageMaker's script mode and users both run it)."""

import subprocess
import sys

from tests.conftest import REPO


def test_python_dash_m_runs_the_cli():
    out = subprocess.run(
        [sys.executable, "-m", "lakewatch", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    for command in ("train", "score", "serve", "demo", "findings"):
        assert command in out.stdout
