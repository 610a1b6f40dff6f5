"""``lakewatch sizing``: what lakewatch needs on ``aws`` for an organisation's lake
(``serving/sizing.py``'s model; docs/scale.md explains it)."""

from __future__ import annotations

import argparse

from lakewatch.cli.common import positive


def _tb(value: str) -> float:
    tb = float(value)
    if not tb >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be 0 or more: {value}")
    return tb


def _at_least_one(value: str) -> float:
    x = float(value)
    if not x >= 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return x


def lake_of(args: argparse.Namespace):
    """The ``Lake`` of the arguments; an option not given keeps the model's default."""
    from lakewatch.serving.sizing import Lake

    given = {
        "route53_tb_per_day": args.route53_tb_per_day,
        "cloudtrail_tb_per_day": args.cloudtrail_tb_per_day,
        "instances_per_account_region": args.instances,
        "objects_per_day": args.objects_per_day,
        "busiest_skew": args.skew,
        "window_days": args.window_days,
    }
    return Lake(
        accounts=args.accounts,
        regions=args.regions,
        flow_tb_per_day=args.flow_tb_per_day,
        **{k: v for k, v in given.items() if v is not None},
    )


def cmd_sizing(args: argparse.Namespace) -> int:
    from lakewatch.serving.sizing import render, size

    print("\n".join(render(size(lake_of(args)))))
    return 0


def register(sub) -> None:
    """Add this group's command to the ``lakewatch`` parser."""
    p = sub.add_parser(
        "sizing",
        help="Athena, training, endpoint and Lambda needs for an organisation's lake",
        description="The sizing model of docs/scale.md: from per-unit figures measured on the "
        "synthetic lake and this project's benchmarks, the daily extract's Athena bytes and "
        "cost, the training job, the endpoint, the scorer's Lambda and SQS settings, and "
        "where the design breaks first. Runs offline; reads no settings.",
    )
    p.add_argument("--accounts", type=positive, required=True, help="AWS accounts in the lake")
    p.add_argument("--regions", type=positive, required=True, help="regions in the lake")
    p.add_argument(
        "--flow-tb-per-day",
        type=_tb,
        required=True,
        metavar="T",
        help="VPC Flow Logs a day, TB (10^12 bytes) of the lake's Parquet",
    )
    p.add_argument(
        "--route53-tb-per-day",
        type=_tb,
        metavar="T",
        help="Route 53 resolver logs a day (default: the synthetic lake's rows per flow row)",
    )
    p.add_argument(
        "--cloudtrail-tb-per-day",
        type=_tb,
        metavar="T",
        help="CloudTrail a day (no view reads it: shown, not scanned; default 0)",
    )
    p.add_argument(
        "--instances",
        type=positive,
        help="EC2 instances (entities) per account and region (default 50)",
    )
    p.add_argument(
        "--objects-per-day",
        type=positive,
        help="objects a source per account and region a day (default 288: one in 5 minutes)",
    )
    p.add_argument(
        "--skew",
        type=_at_least_one,
        help="the busiest account's object over the mean object (default 10)",
    )
    p.add_argument(
        "--window-days",
        type=positive,
        help="the training window, days (default 7, as lakewatch_train)",
    )
    p.set_defaults(func=cmd_sizing)
