"""``lakewatch lake``: write and validate a synthetic Security Lake."""

from __future__ import annotations

import argparse

from lakewatch.cli.common import fraction, iso_date, positive


def cmd_lake_generate(args: argparse.Namespace) -> int:
    from lakewatch.backends import clients_for
    from lakewatch.lake import notify
    from lakewatch.lake.sink import open_store
    from lakewatch.lake.synthetic import GenerateOptions
    from lakewatch.lake.write import write_lake
    from lakewatch.settings import load_settings

    settings = load_settings(region=args.region)
    clients = clients_for(settings)
    options = GenerateOptions(
        days=args.days,
        start=args.start,
        seed=args.seed,
        source_version=args.source_version,
        rows_per_day=args.rows_per_day,
        accounts=args.accounts,
        instances_per_account=args.instances,
        region=settings.region,
        anomalies_per_kind=args.anomalies_per_kind,
        churn=args.churn,
        cloudtrail=args.cloudtrail,
        cloudtrail_share=args.cloudtrail_share,
        rcf_anomalies=args.rcf_anomalies,
    )
    store = open_store(args.out, clients)
    notifier = None
    if args.notify:
        sqs = clients("sqs")
        notifier = lambda messages: notify.send(sqs, args.notify, messages)  # noqa: E731
    summary = write_lake(
        options,
        store,
        ground_truth_prefix=settings.ground_truth_prefix,
        notifier=notifier,
        account_id=settings.account_id,
    )
    for line in summary.lines():
        print(line)
    if args.truth:
        _write_truth(store, settings.ground_truth_prefix, args.truth)
    return 0


def _write_truth(store, prefix: str, path: str) -> None:
    """The lake's ground truth as a backtest's TRUTH.csv (``lake/truth.py``)."""
    from pathlib import Path

    from lakewatch.lake.truth import rows_from_labels, truth_csv
    from lakewatch.lake.write import read_labels

    rows = rows_from_labels(read_labels(store, prefix))
    Path(path).write_text(truth_csv(rows))
    print(f"truth: {len(rows)} known incident rows written to {path}")


def cmd_lake_validate(args: argparse.Namespace) -> int:
    import io

    import pyarrow.parquet as pq

    from lakewatch.backends import clients_for
    from lakewatch.lake.layout import OCSF_VERSION, parse_key
    from lakewatch.lake.sink import open_store
    from lakewatch.lake.validate import validate_table
    from lakewatch.settings import load_settings

    store = open_store(args.source, clients_for(load_settings()))
    checked = bad = 0
    for key in store.list("aws/"):
        parsed = parse_key(key)
        if parsed is None or parsed.version not in OCSF_VERSION:
            continue
        table = pq.read_table(io.BytesIO(store.get(key)))
        violations = validate_table(table, OCSF_VERSION[parsed.version], sample=args.sample)
        checked += min(table.num_rows, args.sample or table.num_rows)
        for v in violations[:5]:
            print(f"{key}: {v}")
        bad += len(violations)
    print(f"checked {checked:,} records: {bad} violations")
    return 1 if bad else 0


def _share(text: str) -> float:
    return fraction(text, 0.5)


def register(sub) -> None:
    """Add this group's commands to the ``lakewatch`` parser."""
    lake = sub.add_parser("lake", help="synthetic Security Lake").add_subparsers(
        dest="lake_command", required=True
    )
    gen = lake.add_parser("generate", help="write a synthetic Security Lake with anomalies")
    gen.add_argument("--out", required=True, help="s3://bucket[/prefix] or a local folder")
    gen.add_argument("--days", type=positive, required=True)
    gen.add_argument("--start", type=iso_date, help="first day (default: DAYS days ago)")
    gen.add_argument("--seed", type=int, default=7)
    gen.add_argument("--source-version", choices=("1.0", "2.0"), default="2.0")
    gen.add_argument("--rows-per-day", type=positive, default=200_000)
    gen.add_argument("--accounts", type=positive, default=3)
    gen.add_argument("--instances", type=positive, default=20, help="instances per account")
    gen.add_argument(
        "--anomalies-per-kind",
        type=int,
        default=None,
        help="injected events of each kind per day (default: one per account)",
    )
    gen.add_argument(
        "--churn",
        type=fraction,
        default=0.0,
        metavar="FRACTION",
        help="share of each service's instances replaced each day by new instance ids with "
        "the same behaviour (default 0: none)",
    )
    gen.add_argument(
        "--cloudtrail",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also write CloudTrail management events (CLOUD_TRAIL_MGMT: sign-ins, role "
        "assumptions, API calls, IAM changes) with sign-in anomalies (default: on)",
    )
    gen.add_argument(
        "--cloudtrail-share",
        type=_share,
        default=0.03,
        metavar="FRACTION",
        help="CloudTrail rows as a share of --rows-per-day, on top of them (default 0.03)",
    )
    gen.add_argument(
        "--rcf-anomalies",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="also inject the anomalies shaped for Random Cut Forest (rcf_* kinds: admin "
        "ports, a new-port beacon, a volume spike, a new protocol), their own truth rows; "
        "the other kinds' rows and truth are unchanged (default: off)",
    )
    gen.add_argument("--region", default=None)
    gen.add_argument(
        "--notify",
        metavar="QUEUE_URL",
        help="send Security Lake's subscriber notification for each object",
    )
    gen.add_argument(
        "--truth",
        metavar="FILE",
        help="also write the ground truth as a backtest's TRUTH.csv (kind,entity,address,...)",
    )
    gen.set_defaults(func=cmd_lake_generate)
    val = lake.add_parser("validate", help="check lake objects against the OCSF JSON schema")
    val.add_argument("source", help="s3://bucket[/prefix] or a local folder")
    val.add_argument("--sample", type=int, default=None, help="records per object to check")
    val.set_defaults(func=cmd_lake_validate)
