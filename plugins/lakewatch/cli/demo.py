"""``lakewatch demo``: the main job on the local backend."""

from __future__ import annotations

import argparse

from lakewatch.cli.common import fraction, positive


def cmd_demo(args: argparse.Namespace) -> int:
    from lakewatch.demo.run import run_demo

    return run_demo(
        days=args.days,
        rows_per_day=args.rows_per_day,
        seed=args.seed,
        airflow_port=args.airflow_port,
        feedback=args.feedback,
        churn=args.churn,
        executor=args.executor,
    )


def register(sub) -> None:
    """Add this group's commands to the ``lakewatch`` parser."""
    demo = sub.add_parser("demo", help="run the main job on the local backend")
    demo.add_argument("--days", type=positive, default=6)
    demo.add_argument("--rows-per-day", type=positive, default=40_000)
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--airflow-port", type=int, default=8280, help="Airflow UI/API port")
    demo.add_argument(
        "--churn",
        type=fraction,
        default=0.0,
        help="share of each service's instances replaced by new instance ids each day",
    )
    demo.add_argument(
        "--executor",
        choices=("local", "celery"),
        default="local",
        help="Airflow's LocalExecutor, or the CeleryExecutor: two Celery workers and a Redis "
        "broker (Debian's redis-server, which make setup installs)",
    )
    demo.add_argument(
        "--no-feedback",
        dest="feedback",
        action="store_false",
        help="skip the analyst in the loop (review, retrain with the labels, score tomorrow)",
    )
    demo.set_defaults(func=cmd_demo)
