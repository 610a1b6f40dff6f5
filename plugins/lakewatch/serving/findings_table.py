"""The findings table: a Glue table over the scorer's Parquet with Athena partition projection.

The columns are the scorer's own schema (``scoring.storage.SCHEMA``), so the table can never
describe files the scorer does not write; the partitions are the custom-source layout of
``names.findings_object_key`` (``region=/accountId=/eventDay=``). Partition projection names
every partition from the table's properties, so a new day, account or Region needs no crawler
and no ``MSCK REPAIR``. Made with ``awswrangler.catalog``. A table whose columns disagree with
lakewatch's is reported and left alone: it may be another team's, or an older lakewatch's that
a saved query still reads, and Glue keeps no copy of what an overwrite would replace.
``deploy/lakewatch.yaml`` creates the same table (a test holds the two equal).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import pyarrow as pa

from lakewatch.aws import wrangler
from lakewatch.aws.clients import AwsClients
from lakewatch.scoring.storage import SCHEMA
from lakewatch.settings import Settings

if TYPE_CHECKING:  # awswrangler is imported where it is used: it takes a second to import
    from awswrangler.typing import AthenaPartitionProjectionSettings

PARTITIONS = {"region": "string", "accountid": "string", "eventday": "string"}
FIRST_DAY = "20260101"  # the projection's default start (deploy/lakewatch.yaml's FindingsSince)
_SCALARS = {
    pa.int8(): "tinyint",
    pa.int16(): "smallint",
    pa.int32(): "int",
    pa.int64(): "bigint",
    pa.float32(): "float",
    pa.float64(): "double",
    pa.bool_(): "boolean",
    pa.string(): "string",
    pa.large_string(): "string",
}


def athena_type(t: pa.DataType) -> str:
    """The Hive/Athena DDL type of an Arrow type (the scorer's schema uses only these)."""
    if pa.types.is_struct(t):
        return f"struct<{','.join(f'{f.name}:{athena_type(f.type)}' for f in t)}>"
    if pa.types.is_map(t):
        return f"map<{athena_type(t.key_type)},{athena_type(t.item_type)}>"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return f"array<{athena_type(t.value_type)}>"
    if t in _SCALARS:
        return _SCALARS[t]
    raise ValueError(f"no Athena type for {t}")


def columns() -> dict[str, str]:
    """The table's columns, in the scorer's order."""
    return {f.name: athena_type(f.type) for f in SCHEMA}


def location(settings: Settings) -> str:
    return f"s3://{settings.results_bucket_name}/{settings.findings_prefix}"


@dataclass(frozen=True)
class Projection:
    """What the projection enumerates: the lake's accounts and Regions, and the first day."""

    accounts: tuple[str, ...]
    regions: tuple[str, ...]
    since: str = FIRST_DAY

    def settings(self, settings: Settings) -> AthenaPartitionProjectionSettings:
        """The table's projection, in awswrangler's words (it writes the ``projection.*``
        properties Athena reads)."""
        template = "region=${region}/accountId=${accountid}/eventDay=${eventday}/"
        return {
            "projection_types": {"region": "enum", "accountid": "enum", "eventday": "date"},
            "projection_values": {
                "region": ",".join(self.regions),
                "accountid": ",".join(self.accounts),
            },
            "projection_ranges": {"eventday": f"{self.since},NOW"},
            "projection_formats": {"eventday": "yyyyMMdd"},
            "projection_intervals": {"eventday": "1"},
            "projection_storage_location_template": f"{location(settings)}{template}",
        }


@dataclass
class TableResult:
    """What ``ensure`` did: created, updated (the projection), or nothing (it disagrees)."""

    action: Literal["created", "updated", "disagrees"]
    table: str
    differences: list[str] = field(default_factory=list)


def _normal(text: str) -> str:
    return "".join(text.split()).lower()


def disagreements(existing: dict[str, str], wanted: dict[str, str]) -> list[str]:
    """How ``existing`` columns differ from ``wanted``: missing, unexpected, other types."""
    out = [f"missing column {name} {t}" for name, t in wanted.items() if name not in existing]
    out += [f"unexpected column {name} {t}" for name, t in existing.items() if name not in wanted]
    out += [
        f"column {name} is {existing[name]}, lakewatch writes {t}"
        for name, t in wanted.items()
        if name in existing and _normal(existing[name]) != _normal(t)
    ]
    return out


def ensure(settings: Settings, clients: AwsClients, projection: Projection) -> TableResult:
    """Create the database and table, or update an agreeing table's projection (new accounts or
    Regions); a disagreeing table is reported, not touched."""
    import awswrangler as wr

    db, name = settings.findings_database, settings.findings_table
    wanted = {**columns(), **PARTITIONS}
    with wrangler.session(clients, settings.region) as session:
        existing = wr.catalog.get_table_types(database=db, table=name, boto3_session=session)
        if existing is not None and (diff := disagreements(existing, wanted)):
            return TableResult("disagrees", f"{db}.{name}", diff)
        wr.catalog.create_database(db, exist_ok=True, boto3_session=session)
        wr.catalog.create_parquet_table(
            database=db,
            table=name,
            path=location(settings),
            columns_types=columns(),
            partitions_types=PARTITIONS,
            description="lakewatch findings (OCSF 2004); partition projection, no crawler",
            parameters={"classification": "parquet", "projection.eventday.interval.unit": "DAYS"},
            athena_partition_projection_settings=projection.settings(settings),
            mode="append" if existing is not None else "overwrite",  # append: update what differs
            boto3_session=session,
        )
    return TableResult("updated" if existing is not None else "created", f"{db}.{name}")
