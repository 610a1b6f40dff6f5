"""One Security Lake object's pairs, by the same view SQL the training DAG extracts with.

Only the columns the views touch are read. The object's partition (from its key) sets the
interval, and for 1.0 objects also the ``region``/``accountId``/``eventDay`` columns a Glue
table would add, so the templates run unchanged on DuckDB over the object's Arrow table.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from lakewatch.extract.engine import DuckAthena
from lakewatch.extract.export import PairSet
from lakewatch.extract.views import QueryContext, render, sources_used
from lakewatch.lake.layout import LakeKey, Source
from lakewatch.scoring.errors import PoisonMessage

COLUMNS = {
    Source.VPC_FLOW: ["time", "time_dt", "src_endpoint", "dst_endpoint", "connection_info"],
    Source.ROUTE53: ["time", "time_dt", "src_endpoint", "answers"],
}


@dataclass
class ObjectPairs:
    rows: int  # records in the object
    pairs: pa.Table  # entity, ip, view, status, event_time (every candidate, classified)
    source: Source


def read_object(body: bytes, key: LakeKey) -> tuple[pa.Table, Source]:
    source = Source(key.source)
    try:
        pf = pq.ParquetFile(io.BytesIO(body))
        names = set(pf.schema_arrow.names)
        wanted = [c for c in COLUMNS[source] if c in names]
        missing = {c for c in COLUMNS[source] if c not in names} - {"time_dt"}
        if missing or (key.version == "2.0" and "time_dt" not in names):
            raise PoisonMessage(
                f"{key.key}: schema lacks {sorted(missing or {'time_dt'})}; "
                f"not a Security Lake {key.source} {key.version} object"
            )
        table = pf.read(columns=wanted)
    except PoisonMessage:
        raise
    except Exception as err:  # corrupt or not Parquet: no retry will help
        raise PoisonMessage(f"{key.key}: cannot read as Parquet: {err}") from None
    if key.version == "1.0":  # the partition columns Athena's 1.0 tables have
        n = table.num_rows
        for name, value in (
            ("region", key.region),
            ("accountId", key.account_id),
            ("eventDay", key.event_day),
        ):
            table = table.append_column(name, pa.array([value] * n, pa.string()))
    return table, source


def object_pairs(body: bytes, key: LakeKey, pair_set: PairSet, region: str) -> ObjectPairs:
    table, source = read_object(body, key)
    views = tuple(v for v in pair_set.views if source in sources_used((v,)))
    if not views:
        return ObjectPairs(table.num_rows, _empty(), source)
    start = datetime.combine(key.day, datetime.min.time(), UTC)
    ctx = QueryContext(
        region=key.region or region,
        source_version=key.version,
        start=start,
        end=start + timedelta(days=1),
        views=views,
        keep=pair_set.keep,
    )
    engine = DuckAthena(tables={source: table}, threads=1)
    try:
        pairs = engine.query(render("classified.sql", ctx), ctx)
    except duckdb.Error as err:  # columns of the right names but the wrong types
        raise PoisonMessage(
            f"{key.key}: does not match the OCSF {key.source} {key.version} schema the views "
            f"read: {str(err).splitlines()[0]}"
        ) from None
    return ObjectPairs(
        table.num_rows, pairs.select(["entity", "ip", "view", "status", "event_time"]), source
    )


def _empty() -> pa.Table:
    return pa.table(
        {
            "entity": pa.array([], pa.string()),
            "ip": pa.array([], pa.string()),
            "view": pa.array([], pa.string()),
            "status": pa.array([], pa.string()),
            "event_time": pa.array([], pa.int64()),
        }
    )
