"""``lakewatch findings``: review the scorer's findings from the command line.

``list`` ranks a day's findings, ``show`` prints one with the analyst's labels, ``label``
records a verdict, ``suppress`` silences an entity's address or range for some days, and
``export`` writes a day's findings with their latest verdicts to CSV or Parquet, and ``table``
creates or updates the Glue table ``export`` reads on ``aws``.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from lakewatch.cli.common import context, iso_date


def _desk(args: argparse.Namespace, settings=None, clients=None):
    """The desk over the results bucket (findings, labels, suppressions) and the lake (its
    Security Hub findings), for the configured backend or the ``settings`` and ``clients``
    given."""
    from lakewatch.aws.securityhub import hub_for
    from lakewatch.extract.daily import results_store
    from lakewatch.lake.sink import S3Store
    from lakewatch.review.desk import Desk

    if settings is None or clients is None:
        settings, clients = context()
    store = results_store(settings, clients)
    reputation = _reputation(args, settings, store) if hasattr(args, "reputation") else None
    lake = S3Store(clients("s3"), settings.lake_bucket_name)
    return Desk(
        store,
        settings.findings_prefix,
        settings.feedback_prefix,
        reputation,
        lake=lake,
        source_version=settings.source_version,
        security_hub=hub_for(settings, clients),
    )


def _reputation(args: argparse.Namespace, settings, store):
    """The reputation list named by ``--reputation`` or the settings, or None; its bad lines
    are reported (and skipped)."""
    from lakewatch.review.reputation import read_reputation

    where = args.reputation or settings.reputation_uri
    if not where:
        return None
    rep = read_reputation(where, store.s3)
    for line in rep.bad_lines[:10]:
        print(f"skipped: {line}", file=sys.stderr)
    if rep.bad_lines:
        print(
            f"{len(rep.bad_lines)} bad line(s) skipped in {where}; {rep.entries} used",
            file=sys.stderr,
        )
    return rep


def _who(args: argparse.Namespace) -> str:
    return args.who or os.environ.get("LAKEWATCH_ANALYST") or getpass.getuser()


def _day(args: argparse.Namespace) -> date:
    return args.day or datetime.now(UTC).date()


def _reviewed(args: argparse.Namespace, day: date):
    desk = _desk(args)
    return _noted(desk, desk.reviewed(day))


def _noted(desk, reviewed):
    """``reviewed``, after saying on stderr why Security Hub evidence was missing or partial."""
    if desk.evidence_note:
        print(desk.evidence_note, file=sys.stderr)
    return reviewed


def cmd_list(args: argparse.Namespace) -> int:
    day = _day(args)
    reviewed = _reviewed(args, day)
    if args.json:
        out = [{**r.as_dict(), "verdict": verdict} for r, verdict in reviewed]
        print(json.dumps(out, indent=2))
        return 0
    if not reviewed:
        print(f"no findings on {day}")
        return 0
    for r, verdict in reviewed:
        score = f"{r.score:8.3f}" if r.score is not None else "       -"
        rep = f"  reputation {r.reputation:.0f} ({r.reputation_cidr})" if r.reputation else ""
        rep += f"  security hub: {'; '.join(r.corroborated_by)}" if r.corroborated_by else ""
        rep += f"  sign-in: {r.signin}" if r.signin else ""
        print(
            f"{r.uid[:12]}  {r.severity:<13} {r.kind:<16} {r.entity:<22} "
            f"{','.join(r.addresses)[:40]:<40} {score}  {verdict or '-'}{rep}"
        )
    print(f"{len(reviewed)} finding(s) on {day}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    desk = _desk(args)
    finding = desk.finding(_day(args), args.id)
    history = desk.history(finding["finding_info"]["uid"])
    print(json.dumps({"finding": finding, "labels": [lab.__dict__ for lab in history]}, indent=2))
    return 0


def cmd_label(args: argparse.Namespace) -> int:
    desk = _desk(args)
    row, key = desk.label(_day(args), args.id, args.verdict, args.note, _who(args))
    print(f"labelled {row.uid} {args.verdict} ({desk.store.uri(key)})")
    if desk.security_hub_note:
        print(desk.security_hub_note, file=sys.stderr)
    return 0


def cmd_suppress(args: argparse.Namespace) -> int:
    desk = _desk(args)
    suppression, key = desk.suppress(
        args.entity, args.address, args.cidr, args.view, args.days, args.note, _who(args)
    )
    print(
        f"suppressed {suppression.cidr} for {suppression.entity}"
        f"{' in ' + suppression.view if suppression.view else ''} until {suppression.expires} "
        f"({desk.store.uri(key)})"
    )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """The day's findings read with SQL through the findings table (Athena on ``aws``), then
    ranked and labelled as ``list`` shows them."""
    from lakewatch.backends import backend_for
    from lakewatch.review import export

    out = Path(args.out)
    if out.suffix not in export.FORMATS:
        print(f"--out must end in .csv or .parquet: {out}", file=sys.stderr)
        return 2
    settings, clients = context()
    sql = export.findings_sql(settings.findings_database, settings.findings_table, args.day)
    table = backend_for(settings).query_findings(clients, sql, args.day)
    desk = _desk(args, settings, clients)
    df = export.frame(_noted(desk, desk.reviewed_rows(args.day, export.rows_of(table, args.day))))
    export.write(df, out)
    print(f"wrote {len(df)} finding(s) of {args.day} to {out}")
    return 0


def _listed(text: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in text.split(",") if t.strip())


def cmd_table(args: argparse.Namespace) -> int:
    """Create or update the findings table (Glue, partition projection); exit status 1, with
    the differences, where a table of that name disagrees with lakewatch's columns."""
    from lakewatch.serving import findings_table

    settings, clients = context()
    projection = findings_table.Projection(
        accounts=_listed(args.accounts or settings.account_id),
        regions=_listed(args.regions or settings.region),
        since=args.since,
    )
    result = findings_table.ensure(settings, clients, projection)
    if result.action == "disagrees":
        print(f"{result.table} exists and disagrees with lakewatch's findings:", file=sys.stderr)
        for line in result.differences:
            print(f"  {line}", file=sys.stderr)
        print("left as it is: drop or rename it, or set LAKEWATCH_FINDINGS_TABLE", file=sys.stderr)
        return 1
    print(
        f"{result.action} {result.table} over {findings_table.location(settings)} "
        f"(accounts {','.join(projection.accounts)}; regions {','.join(projection.regions)}; "
        f"days from {projection.since})"
    )
    return 0


def _yyyymmdd(text: str) -> str:
    try:
        datetime.strptime(text, "%Y%m%d")
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a day as YYYYMMDD: {text!r}") from None
    return text


def register(sub) -> None:
    """Add ``findings`` and its sub-commands to the ``lakewatch`` parser."""
    from lakewatch.review.feedback import VERDICTS, VIEWS

    findings = sub.add_parser("findings", help="review the scorer's findings (operate)")
    fsub = findings.add_subparsers(dest="findings_cmd", required=True)

    def with_day(p, required: bool = False):
        p.add_argument(
            "--day", type=iso_date, required=required, help="the findings' UTC day (default today)"
        )
        return p

    def with_who(p):
        p.add_argument("--who", help="the analyst (default $LAKEWATCH_ANALYST or the login)")
        p.add_argument("--note", default="", help="why")
        return p

    def with_reputation(p):
        p.add_argument(
            "--reputation",
            help="an IP reputation list (cidr,score[,source]; a file or s3://) that raises "
            "findings on listed addresses (default $LAKEWATCH_REPUTATION_URI)",
        )
        return p

    flist = with_reputation(
        with_day(fsub.add_parser("list", help="a day's findings, most severe first"))
    )
    flist.add_argument("--json", action="store_true", help="JSON, with each latest verdict")
    flist.set_defaults(func=cmd_list)
    show = with_day(fsub.add_parser("show", help="one finding and its labels"))
    show.add_argument("id", help="the finding's uid (a unique prefix will do)")
    show.set_defaults(func=cmd_show)
    label = with_who(with_day(fsub.add_parser("label", help="record an analyst's verdict")))
    label.add_argument("id", help="the finding's uid (a unique prefix will do)")
    label.add_argument("--verdict", required=True, choices=VERDICTS)
    label.set_defaults(func=cmd_label)
    sup = with_who(fsub.add_parser("suppress", help="silence an entity's address or range"))
    sup.add_argument("--entity", required=True, help="the instance (e.g. i-0abc...)")
    target = sup.add_mutually_exclusive_group(required=True)
    target.add_argument("--address")
    target.add_argument("--cidr")
    sup.add_argument("--view", choices=VIEWS, help="one view only (default every view)")
    sup.add_argument("--days", type=int, required=True, help="how long it lasts")
    sup.set_defaults(func=cmd_suppress)
    export = with_reputation(
        with_day(fsub.add_parser("export", help="a day's findings to CSV or Parquet"), True)
    )
    export.add_argument("--out", required=True, help="FILE.csv or FILE.parquet")
    export.set_defaults(func=cmd_export)
    table = fsub.add_parser(
        "table", help="create or update the findings table (Glue, Athena partition projection)"
    )
    table.add_argument(
        "--accounts", help="the lake's account ids, comma-separated (default the settings')"
    )
    table.add_argument("--regions", help="the Regions, comma-separated (default the settings')")
    table.add_argument(
        "--since", type=_yyyymmdd, default="20260101", help="the first day (YYYYMMDD)"
    )
    table.set_defaults(func=cmd_table)
