"""The pair views and the Athena (Trino) SQL that defines them.

One template per view lives in ``include/sql/views/``; ``pairs.sql`` unions the chosen views and
classifies each candidate pair, ``extract.sql`` keeps the good ones with their train/validation
split, ``counts.sql`` counts everything by view and status. The ``aws`` backend sends this SQL
to Athena; the ``local`` backend translates the same text to DuckDB with sqlglot.

The network views pair an instance with an address; ``signin`` pairs a principal with the
address it signed in from (CloudTrail's Authentication records; ``extract.signin`` is its SQL's
Python twin) and carries each sign-in's outcome and MFA beside the pair, for the findings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from lakewatch.lake.layout import Source, glue_database, table_name
from lakewatch.lake.views import View  # the views' names, re-exported here beside their SQL

VIEWS: dict[View, str] = {
    View.SEED: "the original blog's pairs: an instance and its own source address (VPC + DNS)",
    View.EGRESS_PEER: "an instance and the destinations of its outbound flows",
    View.INGRESS_PEER: "an instance (as '<id>/in') and the sources of its inbound flows",
    View.DNS_ANSWER: "an instance and the addresses Route 53 answered to its queries",
    View.SIGNIN: "a principal (user, role or SSO person) and the address it signed in from",
}
# Catches every kind of network anomaly the synthetic lake injects: lateral movement, C2 and
# exfiltration on egress; scans and lateral movement (victim side) on ingress; rare domains on
# DNS answers and egress. The sign-in view is not among them: its entities are principals, not
# instances, and it reads the CloudTrail table, which a lake without CloudTrail lacks (Athena
# fails a query on a missing table); a pair set names it on its own (``SIGNIN_VIEWS``).
DEFAULT_VIEWS = (View.EGRESS_PEER, View.INGRESS_PEER, View.DNS_ANSWER)
SIGNIN_VIEWS = (View.SIGNIN,)
# A pair's status: its address's (ok: IPv4, ipv6, dash, malformed), or why a sign-in record
# makes no pair (views/signin.sql): a version the reader does not know, no address, a service's
# name for an address, an actor lakewatch names no principal for.
STATUSES = (
    "ok",
    "ipv6",
    "dash",
    "malformed",
    "unknown_version",
    "no_address",
    "service",
    "unknown_actor",
)


def configured_views(setting: str) -> tuple[str, ...]:
    """The views of ``Settings.pair_views`` (comma-separated names; "" = ``DEFAULT_VIEWS``):
    what a DAG run whose ``views`` param is empty extracts and trains on."""
    names = tuple(v.strip() for v in setting.split(",") if v.strip())
    return check_views(names) if names else DEFAULT_VIEWS


def sql_dir() -> Path:
    """``include/sql``: $LAKEWATCH_SQL_DIR, else the repository's, else beside the package."""
    if os.environ.get("LAKEWATCH_SQL_DIR"):
        return Path(os.environ["LAKEWATCH_SQL_DIR"])
    here = Path(__file__).resolve()
    for candidate in (here.parents[3] / "include" / "sql", here.parent / "sql"):
        if (candidate / "pairs.sql").exists():
            return candidate
    raise FileNotFoundError("cannot find include/sql (set LAKEWATCH_SQL_DIR)")


@cache
def _env(root: str) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(root),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def check_views(views: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    unknown = [v for v in views if v not in VIEWS]
    if unknown or not views:
        raise ValueError(
            f"unknown pair view(s) {unknown or '(none given)'}; choose from " + ", ".join(VIEWS)
        )
    return tuple(dict.fromkeys(views))


@dataclass(frozen=True)
class QueryContext:
    """What a view template needs: where the tables are and which interval to read."""

    region: str
    source_version: str
    start: datetime
    end: datetime
    views: tuple[str, ...] = DEFAULT_VIEWS
    keep: tuple[str, ...] = ("ok",)
    database: str = ""
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.source_version not in ("1.0", "2.0"):
            raise ValueError(f"source version must be 1.0 or 2.0, not {self.source_version!r}")
        if self.end <= self.start:
            raise ValueError(f"empty interval: {self.start} to {self.end}")
        check_views(self.views)
        bad = set(self.keep) - set(STATUSES)
        if bad:
            raise ValueError(f"unknown pair status(es) {sorted(bad)}; choose from {STATUSES}")

    @property
    def glue_database(self) -> str:
        return self.database or glue_database(self.region)

    def table(self, source: Source) -> str:
        return table_name(source, self.source_version, self.region)

    def variables(self) -> dict:
        start, end = _utc(self.start), _utc(self.end)
        last = end - timedelta(milliseconds=1)
        return {
            "views": list(self.views),
            "scans": scans(self.views),
            "keep": list(self.keep),
            "source_version": self.source_version,
            "vpc_table": f'"{self.glue_database}"."{self.table(Source.VPC_FLOW)}"',
            "dns_table": f'"{self.glue_database}"."{self.table(Source.ROUTE53)}"',
            "cloudtrail_table": (f'"{self.glue_database}"."{self.table(Source.CLOUD_TRAIL_MGMT)}"'),
            "start_ts": start.strftime("%Y-%m-%d %H:%M:%S"),
            "end_ts": end.strftime("%Y-%m-%d %H:%M:%S"),
            "start_ms": int(start.timestamp() * 1000),
            "end_ms": int(end.timestamp() * 1000),
            "start_day": start.strftime("%Y%m%d"),
            "end_day": last.strftime("%Y%m%d"),
            **self.extra,
        }

    def days(self) -> list[str]:
        """The eventDay partitions the interval touches."""
        day, last = _utc(self.start).date(), (_utc(self.end) - timedelta(milliseconds=1)).date()
        out = []
        while day <= last:
            out.append(day.strftime("%Y%m%d"))
            day += timedelta(days=1)
        return out


def render(template: str, ctx: QueryContext) -> str:
    """Athena SQL for ``template`` (``pairs.sql``, ``extract.sql``, ``counts.sql``)."""
    return render_sql(template, **ctx.variables())


def render_sql(template: str, **variables: Any) -> str:
    """Athena SQL for any ``include/sql`` template and its variables."""
    return _env(str(sql_dir())).get_template(template).render(**variables).strip()


def scans(views: tuple[str, ...]) -> list[str]:
    """The view templates ``pairs.sql`` unions: each view's own, except that egress_peer and
    ingress_peer together are ``flow_peers``, one scan of the VPC Flow table for both (half the
    bytes Athena scans and bills, a third less time on DuckDB)."""
    if View.EGRESS_PEER not in views or View.INGRESS_PEER not in views:
        return list(views)
    out = []
    for view in views:
        if view in (View.EGRESS_PEER, View.INGRESS_PEER):
            view = "flow_peers"
        if view not in out:
            out.append(view)
    return out


def sources_used(views: tuple[str, ...]) -> set[Source]:
    used = set()
    for v in views:
        if v in (View.SEED, View.EGRESS_PEER, View.INGRESS_PEER):
            used.add(Source.VPC_FLOW)
        if v in (View.SEED, View.DNS_ANSWER):
            used.add(Source.ROUTE53)
        if v == View.SIGNIN:
            used.add(Source.CLOUD_TRAIL_MGMT)
    return used


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
