"""One Security Lake object's pairs, by the same view SQL the training DAG extracts with.

Only the columns the views touch are read, one record batch at a time (``BATCH_ROWS``), from
the object's bytes or a seekable file of them (the scorer's ranged reads of a large object):
each batch's candidates are counted per (entity, ip, view, status) on DuckDB and the counts
merged as they come (whenever the unmerged counts outgrow the merged ones), so memory follows
the object's distinct pairs, not its rows (a busy account's object must fit the function's
memory), and a ``budget`` is checked after each batch. The object's partition (from its key)
sets the interval, and for 1.0 objects also the ``region``/``accountId``/``eventDay`` columns
a Glue table would add, so the templates run unchanged.

A CloudTrail object (the ``signin`` view) is read by the columns ``extract.signin`` names for
its source version; of them, those a record may lack (``SIGNIN_OPTIONAL``: the target user, the
status, the MFA flag) are filled with nulls where the object has no such column. Its pairs also
count, per pair, the sign-ins with and without MFA and those that succeeded and failed
(``SIGNIN_COUNTS``, for the findings; the network views' pairs have no such columns).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import BinaryIO, Protocol

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lakewatch.extract.engine import translate
from lakewatch.extract.export import PairSet
from lakewatch.extract.signin import signin_schema
from lakewatch.extract.views import QueryContext, render, sources_used
from lakewatch.lake.layout import LakeKey, Source
from lakewatch.scoring.errors import PoisonMessage, TransientError

COLUMNS = {
    Source.VPC_FLOW: ["time", "time_dt", "src_endpoint", "dst_endpoint", "connection_info"],
    Source.ROUTE53: ["time", "time_dt", "src_endpoint", "answers"],
}
# the CloudTrail columns a record may go without: null-filled where an object lacks them
SIGNIN_OPTIONAL = frozenset({"user", "status", "status_id", "mfa", "is_mfa"})
# a sign-in pair's counts beside the network views' (each a count of the pair's records)
SIGNIN_COUNTS = {
    "mfa_used": "is_mfa",
    "mfa_not_used": "NOT is_mfa",
    "succeeded": "outcome = 'Success'",
    "failed": "outcome = 'Failure'",
}


def columns(source: Source, version: str) -> list[str]:
    """The object's top-level columns the views read (``signin_schema``'s for CloudTrail)."""
    if source is Source.CLOUD_TRAIL_MGMT:
        return signin_schema(version).names
    return COLUMNS[source]


# an object's bytes, or a seekable file of them (read in ranges)
ObjectBody = bytes | BinaryIO | io.RawIOBase
BATCH_ROWS = 131_072
MERGE_ROWS = 1_000_000  # unmerged batch counts held before they are merged
GROUP = ["entity", "ip", "view", "status"]


@dataclass
class ObjectPairs:
    rows: int  # records in the object
    # every candidate pair, classified: entity, ip, view, status, and per pair its records
    # (event_time_count) and first and last times (event_time_min, event_time_max)
    pairs: pa.Table
    source: Source
    # VPC Flow: each instance's own addresses in the object (the end of a flow its ENI logged)
    own_addresses: dict[str, set[str]] = field(default_factory=dict)


def _names_its_instance(table: pa.Table, side: str) -> bool:
    """Is ``side`` an endpoint struct with string ``instance_uid`` and ``ip``?"""
    if side not in table.column_names:
        return False
    typ = table.schema.field(side).type
    return pa.types.is_struct(typ) and all(
        typ.get_field_index(f) >= 0 and pa.types.is_string(typ.field(f).type)
        for f in ("instance_uid", "ip")
    )


def own_addresses(table: pa.Table) -> set[tuple[str, str]]:
    """(instance, address) of the flows' ends that name their instance: the instance whose
    ENI logged the flow, at the address it used."""
    out: set[tuple[str, str]] = set()
    for side in ("src_endpoint", "dst_endpoint"):
        if not _names_its_instance(table, side):
            continue  # a schema the views read otherwise: nothing to name
        ends = table[side].combine_chunks()
        ends = pa.table(
            {
                "instance": pc.struct_field(ends, "instance_uid"),
                "ip": pc.struct_field(ends, "ip"),
            }
        )
        named = pc.and_(
            pc.and_(pc.is_valid(ends["instance"]), pc.not_equal(ends["instance"], "-")),
            pc.and_(pc.is_valid(ends["ip"]), pc.not_equal(ends["ip"], "-")),
        )
        distinct = (
            ends.filter(pc.fill_null(named, False)).group_by(["instance", "ip"]).aggregate([])
        )
        out.update(zip(distinct["instance"].to_pylist(), distinct["ip"].to_pylist(), strict=True))
    return out


class Budget(Protocol):
    """What ``object_pairs`` checks its memory against between batches (told the object's
    rows first, so a refusal can name them)."""

    rows: int

    def check(self, step: str) -> None: ...


def _open(body: ObjectBody, key: LakeKey) -> tuple[pq.ParquetFile, list[str], Source]:
    source = Source(key.source)
    if source not in COLUMNS and source is not Source.CLOUD_TRAIL_MGMT:
        raise PoisonMessage(f"{key.key}: no view reads {key.source} objects")
    try:
        if isinstance(body, bytes | bytearray | memoryview):
            pf = pq.ParquetFile(io.BytesIO(body))
        else:  # a file read in ranges: a row group's column chunks in a few coalesced reads
            pf = pq.ParquetFile(body, pre_buffer=True)
        names = set(pf.schema_arrow.names)
    except (TransientError, PoisonMessage):  # reading the file failed, not parsing it
        raise
    except Exception as err:  # corrupt or not Parquet: no retry will help
        raise PoisonMessage(f"{key.key}: cannot read as Parquet: {err}") from None
    read = columns(source, key.version)
    wanted = [c for c in read if c in names]
    missing = {c for c in read if c not in names} - {"time_dt"}
    if source is Source.CLOUD_TRAIL_MGMT:
        missing -= SIGNIN_OPTIONAL
    if missing or (key.version == "2.0" and "time_dt" not in names):
        raise PoisonMessage(
            f"{key.key}: schema lacks {sorted(missing or {'time_dt'})}; "
            f"not a Security Lake {key.source} {key.version} object"
        )
    return pf, wanted, source


def _batches(pf: pq.ParquetFile, wanted: list[str], key: LakeKey) -> Iterator[pa.Table]:
    absent: list[pa.Field] = []
    if key.source == Source.CLOUD_TRAIL_MGMT.value:  # a record may lack these: null-filled
        schema = signin_schema(key.version)
        absent = [
            schema.field(c) for c in sorted(SIGNIN_OPTIONAL & set(schema.names)) if c not in wanted
        ]
    try:
        # a row group at a time: a file read in ranges fetches (pre-buffers) only its columns
        batches = (
            batch
            for group in range(pf.num_row_groups)
            for batch in pf.iter_batches(batch_size=BATCH_ROWS, row_groups=[group], columns=wanted)
        )
        for batch in batches:
            table = pa.Table.from_batches([batch])
            for f in absent:
                table = table.append_column(f.name, pa.nulls(table.num_rows, f.type))
            if key.version == "1.0":  # the partition columns Athena's 1.0 tables have
                n = table.num_rows
                for name, value in (
                    ("region", key.region),
                    ("accountId", key.account_id),
                    ("eventDay", key.event_day),
                ):
                    table = table.append_column(name, pa.array([value] * n, pa.string()))
            yield table
    except (TransientError, PoisonMessage):
        raise
    except Exception as err:  # a corrupt page deep in the file
        raise PoisonMessage(f"{key.key}: cannot read as Parquet: {err}") from None


def check_object(body: bytes, key: LakeKey, *, every_page: bool = False) -> int:
    """The object's record count; raises ``PoisonMessage`` when the views cannot read it: its
    footer and schema, and with ``every_page`` each page too (a corrupt page deep in the
    file). The backtest sets such an object aside before a query over many objects fails."""
    pf, wanted, _ = _open(body, key)
    if every_page:
        for _ in _batches(pf, wanted, key):
            pass
    return pf.metadata.num_rows


def object_pairs(
    body: ObjectBody,
    key: LakeKey,
    pair_set: PairSet,
    region: str,
    budget: Budget | None = None,
) -> ObjectPairs:
    pf, wanted, source = _open(body, key)
    rows = pf.metadata.num_rows
    if budget is not None:
        budget.rows = rows
    views = tuple(v for v in pair_set.views if source in sources_used((v,)))
    if not views:
        return ObjectPairs(rows, _empty(source is Source.CLOUD_TRAIL_MGMT), source)
    start = datetime.combine(key.day, datetime.min.time(), UTC)
    ctx = QueryContext(
        region=key.region or region,
        source_version=key.version,
        start=start,
        end=start + timedelta(days=1),
        views=views,
        keep=pair_set.keep,
    )
    signins = source is Source.CLOUD_TRAIL_MGMT
    counts = "".join(
        f", CAST(sum(CASE WHEN {when} THEN 1 ELSE 0 END) AS BIGINT) AS {name}"
        for name, when in (SIGNIN_COUNTS.items() if signins else ())
    )
    sql = (
        "SELECT entity, ip, view, status, count(*) AS event_time_count, "
        f"min(event_time) AS event_time_min, max(event_time) AS event_time_max{counts} "
        f"FROM ({render('classified.sql', ctx)}) AS candidates "
        "GROUP BY entity, ip, view, status"
    )
    merged, parts, pending = _empty(signins), [], 0
    owned: set[tuple[str, str]] = set()
    # one connection and one translation for the object; each batch replaces the table
    duck_sql = translate(sql, {f"{ctx.glue_database}.{ctx.table(source)}": "lake_batch"})
    con = duckdb.connect()
    try:
        con.execute("SET threads = 1")
        for n, table in enumerate(_batches(pf, wanted, key), 1):
            con.register("lake_batch", table)
            try:
                parts.append(con.sql(duck_sql).to_arrow_table())
                pending += parts[-1].num_rows
            except duckdb.Error as err:  # columns of the right names but the wrong types
                raise PoisonMessage(
                    f"{key.key}: does not match the OCSF {key.source} {key.version} schema "
                    f"the views read: {str(err).splitlines()[0]}"
                ) from None
            con.unregister("lake_batch")
            if source is Source.VPC_FLOW:
                owned |= own_addresses(table)
            del table
            if pending >= max(MERGE_ROWS, merged.num_rows):  # bounded: at most twice the merged
                merged, parts, pending = merge_counts([merged, *parts]), [], 0
            if budget is not None:
                budget.check(f"reading record batch {n} ({merged.num_rows + pending:,} counts)")
    finally:
        con.close()
    mine: dict[str, set[str]] = {}
    for instance, ip in owned:
        mine.setdefault(instance, set()).add(ip)
    return ObjectPairs(rows, merge_counts([merged, *parts]) if parts else merged, source, mine)


def merge_counts(parts: list[pa.Table]) -> pa.Table:
    """Per-batch counts of each classified pair, merged into the object's (with the sign-in
    counts, when the parts have them)."""
    signins = bool(parts) and all(c in parts[0].column_names for c in SIGNIN_COUNTS)
    empty = _empty(signins)
    if not parts:
        return empty
    aggregates = [
        ("event_time_count", "sum"),
        ("event_time_min", "min"),
        ("event_time_max", "max"),
        *((name, "sum") for name in (SIGNIN_COUNTS if signins else ())),
    ]
    merged = (
        pa.concat_tables([p.cast(empty.schema) for p in parts])
        .group_by(GROUP, use_threads=False)  # deterministic: in order of first appearance
        .aggregate(aggregates)
    )
    return _unsuffixed(merged, aggregates).select(empty.schema.names)


def _unsuffixed(table: pa.Table, aggregates: list[tuple[str, str]]) -> pa.Table:
    """pyarrow names an aggregate ``<column>_<function>``; keep the column's own name."""
    names = {f"{column}_{function}": column for column, function in aggregates}
    return table.rename_columns([names.get(n, n) for n in table.column_names])


def _empty(signins: bool = False) -> pa.Table:
    """No pairs, in the columns an object's pairs have (``signins``: with ``SIGNIN_COUNTS``)."""
    return pa.table(
        {
            "entity": pa.array([], pa.string()),
            "ip": pa.array([], pa.string()),
            "view": pa.array([], pa.string()),
            "status": pa.array([], pa.string()),
            "event_time_count": pa.array([], pa.int64()),
            "event_time_min": pa.array([], pa.int64()),
            "event_time_max": pa.array([], pa.int64()),
            **{name: pa.array([], pa.int64()) for name in (SIGNIN_COUNTS if signins else ())},
        }
    )
