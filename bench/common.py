"""Helpers: run a benchmark in a fresh interpreter so its peak memory is its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

_RUNNER = """
import json, resource, sys, importlib
mod, fn, kwargs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
result = getattr(importlib.import_module(mod), fn)(**kwargs)
result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("BENCH-RESULT " + json.dumps(result))
"""


def isolated(
    module: str, function: str, env: dict[str, str] | None = None, **kwargs: Any
) -> dict[str, Any]:
    """Call ``module.function(**kwargs)`` in a new Python process; returns its dict + peak RSS."""
    proc = subprocess.run(
        [sys.executable, "-c", _RUNNER, module, function, json.dumps(kwargs)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH-RESULT "):
            return json.loads(line[len("BENCH-RESULT ") :])
    raise RuntimeError(f"{module}.{function} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")


def row(name: str, value: str, note: str = "") -> str:
    return f"  {name:<44} {value:>18}  {note}"


ONE_CORE = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def lake_egress_pairs(days: int, rows: int, seed: int = 5) -> tuple[list[str], list[str]]:
    """(instance, destination) pairs of a generated lake's outbound IPv4 flows."""
    from tests.conftest import egress_pairs

    return egress_pairs(days=days, rows=rows, seed=seed)
