"""``lakewatch backtest``: wall time and peak memory over a whole lake copy.

Two lakes, each generated into a folder first (untimed) and backtested in a fresh interpreter
so the peak RSS is the backtest's own:

- the demo's lake (6 days of 40,000 rows, seed 7): 5 training days, the 6th scored, against
  its truth file. Target: under 2 minutes.
- a large lake (30 days, 40M rows in all): 29 training days, the last scored. Target: peak
  RSS within 3 GB: memory follows the largest object and the model, not the lake.

The baseline, in the same run: reading every object of the lake with pyarrow (all columns),
the least any backtest must do.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from bench.common import isolated, row

START = date(2026, 11, 1)
# (name, days, rows a day, target): the demo's lake and 40M rows over 30 days
LAKES = (("demo lake", 6, 40_000, "< 120 s"), ("large lake", 30, 1_333_334, "< 3,072 MB RSS"))
# quick: one lake on sizes that only smoke the path; the large lake's is the same calls over a
# longer window, so a second quick lake (4 days of 8,000 rows) smoked nothing more for 16 s
QUICK = (("demo lake (quick)", 3, 8_000, ""),)
FAST_HP = ["--hp", "epochs=8", "--hp", "mini_batch_size=1000"]  # quick mode's model


def generate(folder: str, days: int, rows_per_day: int) -> dict:
    from lakewatch.cli import main

    args = ["lake", "generate", "--out", folder, "--days", str(days), "--start", str(START)]
    args += ["--rows-per-day", str(rows_per_day), "--truth", f"{folder}/truth.csv"]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(args) == 0
    return {}


def read_all(folder: str) -> dict:
    import pyarrow.parquet as pq

    started, rows = time.perf_counter(), 0
    for path in sorted(Path(folder, "aws").rglob("*.parquet")):
        rows += pq.read_table(path).num_rows
    return {"seconds": time.perf_counter() - started, "rows": rows}


def backtest(folder: str, days: int, quick: bool) -> dict:
    import json

    from lakewatch.cli import main

    last = START + timedelta(days=days - 1)
    out = Path(folder) / "out"
    args = ["backtest", "--lake", f"{folder}", "--out", str(out)]
    args += ["--train-days", f"{START}..{last - timedelta(days=1)}", "--score-days", f"{last}"]
    args += ["--truth", f"{folder}/truth.csv", *(FAST_HP if quick else [])]
    printed = io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(printed):
        code = main(args)
    seconds = time.perf_counter() - started
    if code != 0:
        raise RuntimeError(f"backtest exited {code}:\n{printed.getvalue()[-3000:]}")
    summary = json.loads((out / "summary.json").read_text())
    lines = printed.getvalue().splitlines()
    first = next(n for n, ln in enumerate(lines) if ln.startswith("findings: "))
    closing = lines[first:]
    return {"seconds": seconds, "summary": summary, "closing": closing}


def run(quick: bool = False) -> list[str]:
    lines = ["backtest (lakewatch backtest over a generated lake; baseline: read every object)"]
    for name, days, per_day, target in QUICK if quick else LAKES:
        with tempfile.TemporaryDirectory(prefix="lakewatch-bench-backtest-") as folder:
            isolated("bench.backtest", "generate", folder=folder, days=days, rows_per_day=per_day)
            base = isolated("bench.backtest", "read_all", folder=folder)
            got = isolated("bench.backtest", "backtest", folder=folder, days=days, quick=quick)
        summary = got["summary"]
        rows = summary["rows"]["train"] + summary["rows"]["score"]
        assert rows <= base["rows"] and summary["findings"], summary
        lines += [
            row(f"{name}: baseline read", f"{base['seconds']:.1f} s", f"{base['rows']:,} rows"),
            row(
                f"{name}: backtest",
                f"{got['seconds']:.1f} s",
                f"{got['seconds'] / max(base['seconds'], 1e-3):.0f}x the read; {target}",
            ),
            row(f"{name}: backtest peak RSS", f"{got['peak_rss_mb']:,.0f} MB", target),
            row(
                f"{name}: stages",
                "",
                ", ".join(f"{k} {v:.0f}s" for k, v in summary["elapsed_s"].items()),
            ),
            *(f"    {line}" for line in got["closing"]),
        ]
    return lines
