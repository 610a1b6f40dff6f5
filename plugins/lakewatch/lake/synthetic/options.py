"""What a synthetic lake is asked for, and what it hands back: options, objects, labels."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa

from lakewatch.lake.layout import OCSF_VERSION, Source

# The order matters: a day's events are drawn kind by kind in this order.
ANOMALY_KINDS = ("lateral_movement", "c2_beacon", "exfiltration", "scan", "rare_domain")
# CloudTrail's injected kinds (``cloudtrail.py``), drawn from CloudTrail's own streams.
SIGNIN_KINDS = ("signin_new_network", "access_key_new_address", "role_new_range", "signin_failures")
# Random Cut Forest's injected kinds (``rcf_anomalies.py``): an instance-hour that departs
# from the instance's own behaviour, mostly over pairs IP Insights already knows; drawn from
# streams of their own, so the kinds above are the same with or without them.
RCF_KINDS = ("rcf_admin_port", "rcf_new_port_beacon", "rcf_volume_spike", "rcf_new_protocol")
DAY_MS = 86_400_000
# With an origin, the weekday the origin's day counts as (``GenerateOptions.is_weekday``): a
# Tuesday, so the demo's default six quiet days run Tuesday to Sunday and its live day is a
# Monday, the days its measured figures (docs/benchmarks.md) were taken on.
ORIGIN_WEEKDAY_OF = date(2026, 12, 1)


@dataclass(frozen=True)
class GenerateOptions:
    days: int = 3
    start: date | None = None
    seed: int = 7
    source_version: str = "2.0"
    rows_per_day: int = 200_000
    accounts: int = 3
    instances_per_account: int = 20
    region: str = "us-east-1"
    anomalies_per_kind: int | None = None  # per day; default: one per account
    dns_share: float = 0.15
    max_rows_per_object: int = 150_000
    # Security Hub findings (source version 2.0): some injected events reported, and noise
    security_hub: bool = True
    # A day's random stream is keyed by its distance from ``origin`` when given (a lake
    # written relative to today, the demo's, is then the same whatever today is), else by
    # its date.
    origin: date | None = None
    # The share of every service's instances replaced each day by new instance ids with the
    # same behaviour (``churn.py``); 0: the fleet never changes.
    churn: float = 0.0
    # CloudTrail management events (``cloudtrail.py``): sign-ins, role assumptions, API calls
    # and IAM changes, with their own anomalies. Off by default here (what the demo, the
    # benches and the scorer read is unchanged); ``lakewatch lake generate`` turns it on. Its
    # rows come on top of ``rows_per_day``, about ``cloudtrail_share`` of it, so the network
    # sources are the same with or without it.
    cloudtrail: bool = False
    cloudtrail_share: float = 0.03
    # RCF-shaped anomalies (``rcf_anomalies.py``, kinds ``RCF_KINDS``), as many per kind and
    # day as the others. Off by default here and in ``lakewatch lake generate``: they add
    # rows (new pairs among them) to the objects the IP Insights figures are measured on. On,
    # the other kinds' rows and truth are the same as off, and only the objects an RCF event
    # lands in gain its rows.
    rcf_anomalies: bool = False

    def __post_init__(self):
        if self.days < 1:
            raise ValueError("--days must be at least 1")
        if self.rows_per_day < 100:
            raise ValueError("--rows-per-day must be at least 100")
        if self.source_version not in OCSF_VERSION:
            raise ValueError(f"--source-version must be 1.0 or 2.0, not {self.source_version!r}")
        if not 0.0 <= self.churn <= 1.0:
            raise ValueError(f"--churn must be between 0 and 1, not {self.churn}")
        if not 0.0 <= self.cloudtrail_share <= 0.5:
            raise ValueError(
                f"--cloudtrail-share must be between 0 and 0.5, not {self.cloudtrail_share}"
            )

    @property
    def first_day(self) -> date:
        return self.start or (datetime.now(UTC).date() - timedelta(days=self.days))

    def is_weekday(self, day: date) -> bool:
        """Whether people sign in on ``day`` as on a working day. With an ``origin``, the day
        of the week is counted from it as though it were ``ORIGIN_WEEKDAY_OF``: the sign-ins
        of a lake written relative to today (the demo's) followed the calendar, so its
        figures changed with the day of the week it ran (seed 7's lateral movement 12 of 12
        on a Monday, 8 of 12 on a Tuesday)."""
        if self.origin is None:
            return day.weekday() < 5
        return (ORIGIN_WEEKDAY_OF + (day - self.origin)).weekday() < 5

    def stream(self, day: date) -> int:
        """The key of ``day``'s random streams (relative keys start at a million: no ordinal
        of a date this generator writes, nor the fleet's own stream, uses them)."""
        return 1_000_000 + (day - self.origin).days if self.origin else day.toordinal()


@dataclass
class Label:
    """One labelled anomalous row: which object, which row, which pair, which kind."""

    event_id: str
    kind: str
    entity: str
    ip: str
    view: str
    source: str
    key: str = ""
    row: int = -1
    time: int = 0
    account_id: str = ""
    region: str = ""


@dataclass
class GeneratedObject:
    source: Source
    key: str
    table: pa.Table
    day: date
    account_id: str
    labels: list[Label] = field(default_factory=list)


@dataclass
class Event:
    """One planned anomaly: its kind, and the account and time slice it lands in."""

    event_id: str
    kind: str
    account: int
    slice: int


def day_ms(day: date) -> int:
    """Midnight UTC of ``day`` in epoch milliseconds."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
