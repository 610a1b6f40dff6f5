"""One Security Lake VPC Flow object's RCF feature rows: one per instance and UTC hour it has
records of, by the training extract's own SQL (``extract.rcf_features.sql``, Route 53 left
out: an object is of one source), run on DuckDB over the object's record batches as
``scoring.pairs`` runs the pair views: streamed in, a row group at a time, on the pair counts'
connection (``pairs.capped_duckdb``: at most ``pairs.AGGREGATE_MEMORY`` held, the rest spilled
to the function's /tmp; past that too, the message is retried, as for the pairs).

Each row has ``extract.rcf_features``' ``KEY_COLUMNS`` and ``RAW_COLUMNS``, so the model's
``FeatureProfile.apply`` takes it unchanged, plus ``complete``: whether the object's
records span the whole hour (its first record within ``EDGE_MS`` of the hour's start and its
last within ``EDGE_MS`` of its end, or the hour lies between them). An object that begins or
ends inside an hour holds only part of that hour's flows; its counts are lower than the
hour's, and a scorer that scored them as an hour would see a quiet hour. So the scorer scores
the complete hours; joining an hour's parts across objects is left for later.

A VPC Flow object has no Route 53 queries: ``with_usual`` gives those columns the
instance's usual values (its profile's medians), so they neither raise nor lower its score.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lakewatch.extract import rcf_features
from lakewatch.extract.engine import translate
from lakewatch.extract.rcf_features import FEATURES, SUBNET_COLUMN, FeatureProfile, raw_value
from lakewatch.extract.views import QueryContext
from lakewatch.lake.layout import LakeKey, Source
from lakewatch.scoring import pairs
from lakewatch.scoring.errors import PoisonMessage
from lakewatch.scoring.pairs import ObjectBody, batch_schema, capped_duckdb, object_batches

HOUR_MS = 3_600_000
EDGE_MS = 60_000  # records this close to an hour's edge count as reaching it
# the object's top-level columns rcf_features.sql reads (the verdict's: per source version)
BASE_COLUMNS = ("time", "src_endpoint", "dst_endpoint", "connection_info", "traffic")
VERDICT = {"1.0": "disposition_id", "2.0": "action_id"}
# the raw columns only Route 53 gives: a VPC Flow object's rows take the instance's usual
ROUTE53_COLUMNS = ("dns_queries", "dns_domains")


def _columns(version: str) -> list[str]:
    return [*BASE_COLUMNS, VERDICT[version], *(("time_dt",) if version == "2.0" else ())]


def object_feature_rows(body: ObjectBody, key: LakeKey, region: str) -> pa.Table:
    """The object's instance-hours (``KEY_COLUMNS``, ``RAW_COLUMNS``, ``complete``), ordered
    by instance and hour; ``PoisonMessage`` for an object that is not a VPC Flow object of
    the schema the SQL reads."""
    if key.source != Source.VPC_FLOW.value:
        raise PoisonMessage(f"{key.key}: RCF features are read from VPC Flow objects only")
    try:
        pf = (
            pq.ParquetFile(io.BytesIO(body))
            if isinstance(body, bytes | bytearray | memoryview)
            else pq.ParquetFile(body, pre_buffer=True)
        )
        names = set(pf.schema_arrow.names)
    except Exception as err:  # corrupt or not Parquet
        raise PoisonMessage(f"{key.key}: cannot read as Parquet: {err}") from None
    wanted = _columns(key.version)
    missing = [c for c in wanted if c not in names]
    if missing:
        raise PoisonMessage(f"{key.key}: schema lacks {missing} for the RCF features")
    start = datetime.combine(key.day, datetime.min.time(), UTC)
    ctx = QueryContext(
        region=key.region or region,
        source_version=key.version,
        start=start,
        end=start + timedelta(days=1),
    )
    sql = translate(
        rcf_features.sql(ctx, dns=False),
        {f"{ctx.glue_database}.{ctx.table(Source.VPC_FLOW)}": "lake_batch"},
    )
    schema = batch_schema(pf, wanted, key)
    # the pair counts' connection: at most AGGREGATE_MEMORY held, the rest spilled to /tmp
    with capped_duckdb("lakewatch-rcf-rows-") as con:
        con.register(
            "lake_batch", pa.RecordBatchReader.from_batches(schema, _batches(pf, wanted, key))
        )
        try:
            rows = con.sql(sql).to_arrow_table()
        except duckdb.Error as err:
            raise pairs.query_failure(
                err,
                f"{key.key}: its RCF feature rows need",
                f"{key.key}: does not match the OCSF VPC Flow {key.version} schema the RCF "
                "features read",
            ) from None
    return rows.append_column("complete", pa.array(_complete(rows, pf), pa.bool_()))


def _complete(rows: pa.Table, pf: pq.ParquetFile) -> np.ndarray:
    """Whether the object's records span each row's whole hour."""
    lo, hi = _time_span(pf)
    hours = np.asarray(rows["hour_start"].to_numpy(), np.int64)
    return (lo <= hours + EDGE_MS) & (hi >= hours + HOUR_MS - EDGE_MS)


def _time_span(pf: pq.ParquetFile) -> tuple[int, int]:
    """The object's first and last record time (ms), from the row groups' statistics where
    they are kept, else by reading the ``time`` column."""
    lows, highs = [], []
    meta = pf.metadata
    leaf = next((i for i in range(meta.num_columns) if meta.schema.column(i).path == "time"), -1)
    for g in range(meta.num_row_groups):
        stats = meta.row_group(g).column(leaf).statistics if leaf >= 0 else None
        if stats is None or not stats.has_min_max:
            column = pf.read(columns=["time"])["time"]
            return int(pc.min(column).as_py()), int(pc.max(column).as_py())
        lows.append(int(stats.min))
        highs.append(int(stats.max))
    if not lows:
        return 0, -1
    return min(lows), max(highs)


def _batches(pf: pq.ParquetFile, wanted: list[str], key: LakeKey) -> Iterator[pa.RecordBatch]:
    """The scorer's own reading of the object (``pairs.object_batches``), as record batches."""
    for table in object_batches(pf, wanted, key):
        yield from table.to_batches()


def with_usual(
    rows: pa.Table, profile: FeatureProfile, columns: tuple[str, ...] = ROUTE53_COLUMNS
) -> pa.Table:
    """``rows`` with ``columns`` (raw counts a source the object is not of gives) set to each
    instance's usual value: the profile's median, its log1p undone and rounded to a count."""
    index = {f.column: i for i, f in enumerate(FEATURES) if f.column in columns}
    instances = rows["instance"].to_pylist()
    subnets = (
        rows[SUBNET_COLUMN].to_pylist()
        if SUBNET_COLUMN in rows.column_names
        else [None] * len(instances)
    )
    for column in columns:
        feature = FEATURES[index[column]]
        values = [
            round(raw_value(feature, profile.usual_of(str(name), subnet or "")[index[column]]))
            for name, subnet in zip(instances, subnets, strict=True)
        ]
        at = rows.schema.get_field_index(column)
        rows = rows.set_column(at, column, pa.array(values, pa.int64()))
    return rows
