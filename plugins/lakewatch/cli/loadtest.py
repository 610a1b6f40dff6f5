"""``lakewatch loadtest``: the real-time path under a steady stream of notifications."""

from __future__ import annotations

import argparse
from pathlib import Path


def positive(value: str) -> float:
    number = float(value)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be above 0: {value}")
    return number


def cmd_loadtest(args: argparse.Namespace) -> int:
    from lakewatch.loadtest.run import LoadTestOptions, run_load_test
    from lakewatch.loadtest.stack import StackOptions
    from lakewatch.settings import load_settings

    options = LoadTestOptions(
        rate=args.rate,
        count=args.count,
        max_seconds=args.max_seconds,
        out=Path(args.out),
        bad=args.bad,
        drain_s=args.drain_seconds,
        sample_s=args.sample_interval,
        baseline=args.baseline,
        stack=StackOptions(
            rows_per_day=args.rows_per_day,
            seed=args.seed,
            visibility_timeout_s=args.visibility_timeout,
            max_receive_count=args.max_receives,
        ),
    )
    outcome = run_load_test(load_settings(), options, log=lambda line: print(line, flush=True))
    print("\n".join(outcome.lines()))
    print(f"report: {Path(args.out) / 'report.html'}; {Path(args.out) / 'summary.json'}")
    return 0 if outcome.ok else 1


def register(sub) -> None:
    """Add this group's command to the ``lakewatch`` parser."""
    p = sub.add_parser(
        "loadtest",
        help="notifications at a steady rate through the local real-time path, all accounted for",
        description="Start a private local stack (emulator, a small model behind the model "
        "server, the scorer's zip under the local SQS event source mapping) on the configured "
        "loopback ports, send --count notifications at --rate per second (at most "
        "--max-seconds), sample the queue's backlog, wait for it to drain, and account for "
        "every notification: scored, or dead-lettered with its reason. Exit status 1 when one "
        "is unaccounted or ends otherwise than expected.",
    )
    p.add_argument("--rate", type=positive, required=True, help="notifications per second")
    p.add_argument("--count", type=int, required=True, help="notifications to send (at most)")
    p.add_argument(
        "--max-seconds", type=positive, required=True, help="stop sending after this long"
    )
    p.add_argument("--out", required=True, metavar="DIR", help="report.html, summary.json, state")
    p.add_argument(
        "--bad",
        type=int,
        default=4,
        help="of --count, deliberately bad notifications (a missing object, a corrupt one, a "
        "bucket outside the lake, no notification at all, in turn)",
    )
    p.add_argument(
        "--drain-seconds",
        type=positive,
        default=120.0,
        help="the most to wait after the last send for the queue to drain",
    )
    p.add_argument(
        "--sample-interval", type=positive, default=0.25, help="seconds between queue samples"
    )
    p.add_argument(
        "--baseline",
        action="store_true",
        help="also score the same objects in-process (no queue or poller) and print the ratio",
    )
    p.add_argument("--rows-per-day", type=int, default=20_000, help="of the generated lake")
    p.add_argument("--seed", type=int, default=7, help="of the generated lake")
    p.add_argument(
        "--visibility-timeout",
        type=int,
        default=10,
        help="the subscriber queue's, seconds (a missing object is retried after it)",
    )
    p.add_argument(
        "--max-receives", type=int, default=2, help="the queue's maxReceiveCount before the DLQ"
    )
    p.set_defaults(func=cmd_loadtest)
