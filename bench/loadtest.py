"""The real-time path under load, on the local backend: ``lakewatch loadtest``'s run.

Each size runs in a fresh interpreter with a private stack on free loopback ports (its own
emulator, model server and scorer runtime, stopped at the end): ``count`` notifications at
``rate`` per second, four of them bad (a missing object, a corrupt one, a bucket outside the
lake, no notification), the queue sampled every 0.25 s until it drains. The baseline, in the
same run and on the same stack, is the same objects scored one after another in-process by
the handler's ``Scorer`` (no queue, poller or sandbox): the ratio is what the queue's path
costs, or gains, against it. The full run offers one rate under the path's capacity and one
over it (so the second's objects/s is the capacity).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.common import isolated, row

FULL = ((5.0, 150), (40.0, 300))  # (notifications/s, count): under and over capacity
QUICK = ((10.0, 16),)


def measure(rate: float, count: int, folder: str, quick: bool = False) -> dict:
    from lakewatch.loadtest.run import LoadTestOptions, run_load_test
    from lakewatch.loadtest.stack import StackOptions
    from lakewatch.local.emulator import free_port
    from lakewatch.settings import Settings

    settings = Settings(emulator_port=free_port(), model_server_port=free_port())
    options = LoadTestOptions(
        rate=rate,
        count=count,
        max_seconds=count / rate + 5,
        out=Path(folder),
        bad=4,
        drain_s=180,
        baseline=True,
        # the smoke run: a smaller lake and model, and a missing object dead-lettered after
        # two 2 s visibility timeouts rather than two of 5 s
        stack=StackOptions(rows_per_day=6_000, epochs=1, visibility_timeout_s=2)
        if quick
        else StackOptions(visibility_timeout_s=5),
    )
    outcome = run_load_test(settings, options, log=lambda line: None)
    if not outcome.ok:
        raise RuntimeError("\n".join(outcome.lines()))
    summary = outcome.summary()
    for bulky in ("samples", "notifications"):
        summary.pop(bulky)
    return {**summary, "last_line": outcome.lines()[-1]}


def run(quick: bool = False) -> list[str]:
    lines = [
        "loadtest: notifications at a steady rate through the local queue, poller and sandbox, "
        "beside the same objects scored in-process"
    ]
    for rate, count in QUICK if quick else FULL:
        with tempfile.TemporaryDirectory() as tmp:
            r = isolated(
                "bench.loadtest",
                "measure",
                rate=rate,
                count=count,
                folder=tmp,
                quick=quick,
            )
        base = r["baseline"]
        name = f"  loadtest, {rate:g}/s offered"
        lines += [
            row(
                f"{name}: objects/s",
                f"{r['objects_per_s']:.2f}",
                f"{r['objects_per_s'] / base['objects_per_s']:.2f}x in-process "
                f"({base['objects_per_s']:.2f}/s)",
            ),
            row(
                f"{name}: rows/s",
                f"{r['rows_per_s']:,.0f}",
                f"{r['rows_per_s'] / base['rows_per_s']:.2f}x in-process "
                f"({base['rows_per_s']:,.0f}/s)",
            ),
            row(
                f"{name}: backlog peak",
                f"{r['peak_backlog']:,}",
                f"latency p50 {r['latency_s']['p50']:.2f} s, p95 {r['latency_s']['p95']:.2f} s; "
                f"offered {r['offered_per_s']:.2f}/s",
            ),
            f"  {r['last_line']}",
        ]
    return lines
