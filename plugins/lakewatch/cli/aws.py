"""``lakewatch aws check``: the ``aws`` backend's resources, checked before the first night.

It reads what the settings name (``LAKEWATCH_*`` or the ``lakewatch`` Variable's values), so
it checks the resources lakewatch will really use, whoever created them.
"""

from __future__ import annotations

import argparse
import json


def cmd_check(args: argparse.Namespace) -> int:
    """Every check's verdict; exit status 1 when any failed (a warning is not a failure)."""
    from lakewatch.cli.common import context
    from lakewatch.serving.aws_check import check

    settings, clients = context()
    checks = check(settings, clients)
    if args.json:
        print(json.dumps([c.__dict__ for c in checks], indent=2))
    else:
        for c in checks:
            mark = "FAIL" if not c.ok else "WARN" if c.warning else "ok  "
            print(f"{mark}  {c.name:<20} {c.detail}")
    return 0 if all(c.ok for c in checks) else 1


def register(sub) -> None:
    """Add ``aws`` and its ``check`` to the ``lakewatch`` parser."""
    group = sub.add_parser("aws", help="the aws backend's resources (deploy)")
    asub = group.add_subparsers(dest="aws_cmd", required=True)
    chk = asub.add_parser("check", help="check the resources the aws backend expects")
    chk.add_argument("--json", action="store_true", help="the verdicts as JSON")
    chk.set_defaults(func=cmd_check)
