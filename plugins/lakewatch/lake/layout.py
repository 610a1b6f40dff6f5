"""Security Lake's object layout and Glue catalog names.

Objects are written as
``aws/<SOURCE>/<version>/region=<r>/accountId=<12 digits>/eventDay=<YYYYMMDD>/<32 hex>.gz.parquet``
and catalogued as ``amazon_security_lake_table_<region>_<source>_<version>`` in
``amazon_security_lake_glue_db_<region>`` (dashes become underscores).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class Source(StrEnum):
    VPC_FLOW = "VPC_FLOW"
    ROUTE53 = "ROUTE53"
    SH_FINDINGS = "SH_FINDINGS"  # Security Hub (GuardDuty and others): evidence, not scored
    # CloudTrail management events: Authentication (3002), API Activity (1.0: 3005, 2.0: 6003),
    # Account Change (3001) in one table; the signin view reads its Authentication records
    CLOUD_TRAIL_MGMT = "CLOUD_TRAIL_MGMT"

    @property
    def class_uid(self) -> int:
        """The OCSF class lakewatch reads from the source (CloudTrail: its sign-ins)."""
        return {
            Source.VPC_FLOW: 4001,
            Source.ROUTE53: 4003,
            Source.SH_FINDINGS: 2004,
            Source.CLOUD_TRAIL_MGMT: 3002,
        }[self]

    @property
    def table_token(self) -> str:
        return self.value.lower()


SOURCE_VERSIONS = ("1.0", "2.0")
OCSF_VERSION = {"1.0": "1.0.0-rc.2", "2.0": "1.1.0"}

_KEY = re.compile(
    r"^(?P<prefix>.*?)aws/(?P<source>[A-Z0-9_]+)/(?P<version>\d+\.\d+)/"
    r"region=(?P<region>[a-z0-9-]+)/accountId=(?P<account>\d{12})/"
    r"eventDay=(?P<day>\d{8})/(?P<name>[^/]+)$"
)


@dataclass(frozen=True)
class LakeKey:
    """A parsed Security Lake object key."""

    source: str
    version: str
    region: str
    account_id: str
    event_day: str
    name: str
    prefix: str = ""

    @property
    def key(self) -> str:
        return (
            f"{self.prefix}aws/{self.source}/{self.version}/region={self.region}/"
            f"accountId={self.account_id}/eventDay={self.event_day}/{self.name}"
        )

    @property
    def day(self) -> date:
        return date(int(self.event_day[:4]), int(self.event_day[4:6]), int(self.event_day[6:]))


def parse_key(key: str) -> LakeKey | None:
    """The parts of a Security Lake data key, or None for anything else (metadata, manifests)."""
    match = _KEY.match(key)
    if not match or "/metadata/" in key or not match["name"].endswith(".parquet"):
        return None
    return LakeKey(
        source=match["source"],
        version=match["version"],
        region=match["region"],
        account_id=match["account"],
        event_day=match["day"],
        name=match["name"],
        prefix=match["prefix"],
    )


def object_key(
    source: Source, version: str, region: str, account_id: str, day: date, name: str
) -> str:
    return LakeKey(source.value, version, region, account_id, day.strftime("%Y%m%d"), name).key


def source_prefix(source: Source, version: str, region: str | None = None) -> str:
    prefix = f"aws/{source.value}/{version}/"
    return f"{prefix}region={region}/" if region else prefix


def glue_database(region: str) -> str:
    return f"amazon_security_lake_glue_db_{region.replace('-', '_')}"


def table_name(source: Source, version: str, region: str) -> str:
    return (
        f"amazon_security_lake_table_{region.replace('-', '_')}_"
        f"{source.table_token}_{version.replace('.', '_')}"
    )
