"""One Security Lake object's pairs, by the same view SQL the training DAG extracts with.

Only the columns the views touch are read, one record batch at a time (``BATCH_ROWS``): each
batch's candidates are counted per (entity, ip, view, status) on DuckDB and the counts merged,
so memory follows the object's distinct pairs, not its rows (a busy account's object must fit
the function's memory). The object's partition (from its key) sets the interval, and for 1.0
objects also the ``region``/``accountId``/``eventDay`` columns a Glue table would add, so the
templates run unchanged.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lakewatch.extract.engine import translate
from lakewatch.extract.export import PairSet
from lakewatch.extract.views import QueryContext, render, sources_used
from lakewatch.lake.layout import LakeKey, Source
from lakewatch.scoring.errors import PoisonMessage

COLUMNS = {
    Source.VPC_FLOW: ["time", "time_dt", "src_endpoint", "dst_endpoint", "connection_info"],
    Source.ROUTE53: ["time", "time_dt", "src_endpoint", "answers"],
}


BATCH_ROWS = 131_072
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


def _open(body: bytes, key: LakeKey) -> tuple[pq.ParquetFile, list[str], Source]:
    source = Source(key.source)
    try:
        pf = pq.ParquetFile(io.BytesIO(body))
        names = set(pf.schema_arrow.names)
    except Exception as err:  # corrupt or not Parquet: no retry will help
        raise PoisonMessage(f"{key.key}: cannot read as Parquet: {err}") from None
    wanted = [c for c in COLUMNS[source] if c in names]
    missing = {c for c in COLUMNS[source] if c not in names} - {"time_dt"}
    if missing or (key.version == "2.0" and "time_dt" not in names):
        raise PoisonMessage(
            f"{key.key}: schema lacks {sorted(missing or {'time_dt'})}; "
            f"not a Security Lake {key.source} {key.version} object"
        )
    return pf, wanted, source


def _batches(pf: pq.ParquetFile, wanted: list[str], key: LakeKey) -> Iterator[pa.Table]:
    try:
        for batch in pf.iter_batches(batch_size=BATCH_ROWS, columns=wanted):
            table = pa.Table.from_batches([batch])
            if key.version == "1.0":  # the partition columns Athena's 1.0 tables have
                n = table.num_rows
                for name, value in (
                    ("region", key.region),
                    ("accountId", key.account_id),
                    ("eventDay", key.event_day),
                ):
                    table = table.append_column(name, pa.array([value] * n, pa.string()))
            yield table
    except Exception as err:  # a corrupt page deep in the file
        raise PoisonMessage(f"{key.key}: cannot read as Parquet: {err}") from None


def object_pairs(body: bytes, key: LakeKey, pair_set: PairSet, region: str) -> ObjectPairs:
    pf, wanted, source = _open(body, key)
    rows = pf.metadata.num_rows
    views = tuple(v for v in pair_set.views if source in sources_used((v,)))
    if not views:
        return ObjectPairs(rows, _empty(), source)
    start = datetime.combine(key.day, datetime.min.time(), UTC)
    ctx = QueryContext(
        region=key.region or region,
        source_version=key.version,
        start=start,
        end=start + timedelta(days=1),
        views=views,
        keep=pair_set.keep,
    )
    sql = (
        "SELECT entity, ip, view, status, count(*) AS event_time_count, "
        "min(event_time) AS event_time_min, max(event_time) AS event_time_max "
        f"FROM ({render('classified.sql', ctx)}) AS candidates "
        "GROUP BY entity, ip, view, status"
    )
    parts = []
    owned: set[tuple[str, str]] = set()
    # one connection and one translation for the object; each batch replaces the table
    duck_sql = translate(sql, {f"{ctx.glue_database}.{ctx.table(source)}": "lake_batch"})
    con = duckdb.connect()
    try:
        con.execute("SET threads = 1")
        for table in _batches(pf, wanted, key):
            con.register("lake_batch", table)
            try:
                parts.append(con.sql(duck_sql).to_arrow_table())
            except duckdb.Error as err:  # columns of the right names but the wrong types
                raise PoisonMessage(
                    f"{key.key}: does not match the OCSF {key.source} {key.version} schema "
                    f"the views read: {str(err).splitlines()[0]}"
                ) from None
            con.unregister("lake_batch")
            if source is Source.VPC_FLOW:
                owned |= own_addresses(table)
    finally:
        con.close()
    mine: dict[str, set[str]] = {}
    for instance, ip in owned:
        mine.setdefault(instance, set()).add(ip)
    return ObjectPairs(rows, merge_counts(parts), source, mine)


def merge_counts(parts: list[pa.Table]) -> pa.Table:
    """Per-batch counts of each classified pair, merged into the object's."""
    if not parts:
        return _empty()
    merged = (
        pa.concat_tables([p.cast(_empty().schema) for p in parts])
        .group_by(GROUP)
        .aggregate(
            [
                ("event_time_count", "sum"),
                ("event_time_min", "min"),
                ("event_time_max", "max"),
            ]
        )
    )
    return _unsuffixed(merged).select(_empty().schema.names)


def _unsuffixed(table: pa.Table) -> pa.Table:
    """pyarrow names an aggregate ``<column>_<function>``; keep the column's own name."""
    names = {
        "event_time_count_sum": "event_time_count",
        "event_time_min_min": "event_time_min",
        "event_time_max_max": "event_time_max",
    }
    return table.rename_columns([names.get(n, n) for n in table.column_names])


def _empty() -> pa.Table:
    return pa.table(
        {
            "entity": pa.array([], pa.string()),
            "ip": pa.array([], pa.string()),
            "view": pa.array([], pa.string()),
            "status": pa.array([], pa.string()),
            "event_time_count": pa.array([], pa.int64()),
            "event_time_min": pa.array([], pa.int64()),
            "event_time_max": pa.array([], pa.int64()),
        }
    )
