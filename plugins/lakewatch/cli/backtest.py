"""``lakewatch backtest``: what lakewatch would have found in a copy of a Security Lake."""

from __future__ import annotations

import argparse
from pathlib import Path


def fpr(value: str) -> float:
    rate = float(value)
    if not 0 < rate < 0.5:
        raise argparse.ArgumentTypeError(f"must be between 0 and 0.5: {value}")
    return rate


def cmd_backtest(args: argparse.Namespace) -> int:
    from lakewatch.backtest.lake import parse_days
    from lakewatch.backtest.run import BacktestOptions, run_backtest
    from lakewatch.model.hyperparameters import parse_assignments

    options = BacktestOptions(
        lake=args.lake,
        train_days=parse_days(args.train_days, "--train-days"),
        score_days=parse_days(args.score_days, "--score-days"),
        out=Path(args.out),
        truth=Path(args.truth) if args.truth else None,
        fpr=args.fpr,
        seed=args.seed,
        hyperparameters=parse_assignments(args.hp),
    )
    run_backtest(options)
    return 0


def register(sub) -> None:
    """Add this group's command to the ``lakewatch`` parser."""
    p = sub.add_parser(
        "backtest",
        help="run the whole loop over a copy of a Security Lake, scored against known incidents",
        description="Extract the training days with lakewatch's SQL (DuckDB), train with "
        "lakewatch_train's defaults, recalibrate as lakewatch_recalibrate does, then score every "
        "object of the score days with the scorer's own code. The lake is only read.",
    )
    p.add_argument("--lake", required=True, help="a folder or s3://bucket[/prefix]")
    p.add_argument("--train-days", required=True, metavar="FIRST..LAST", help="UTC YYYY-MM-DD")
    p.add_argument("--score-days", required=True, metavar="FIRST..LAST", help="UTC YYYY-MM-DD")
    p.add_argument("--out", required=True, metavar="DIR", help="findings, summary and report")
    p.add_argument(
        "--truth", metavar="TRUTH.csv", help="known incidents: kind,entity,address,start,end"
    )
    p.add_argument("--fpr", type=fpr, default=0.001, help="target false-positive rate")
    p.add_argument("--seed", type=int, default=0, help="the training seed")
    p.add_argument(
        "--hp",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an IP Insights hyperparameter other than lakewatch_train's default (repeatable)",
    )
    p.set_defaults(func=cmd_backtest)
