"""One Security Lake object's pairs, by the same view SQL the training DAG extracts with.

Only the columns the views touch are read, one record batch at a time (``BATCH_ROWS``), from
the object's bytes or a seekable file of them (the scorer's ranged reads of a large object),
and streamed into one DuckDB query that counts the candidates per (entity, ip, view, status).
DuckDB holds at most ``AGGREGATE_MEMORY`` of those counts and spills the rest to a scratch
folder, so memory follows neither the object's rows nor its distinct pairs: what is held is
the scored pairs (entities, views and statuses dictionary-encoded), the others only counted
by status; a ``budget`` is checked after each batch (a busy account's object must fit the
function's memory). The object's partition (from its key) sets the interval, and for 1.0
objects also the ``region``/``accountId``/``eventDay`` columns a Glue table would add, so the
templates run unchanged.

A CloudTrail object (the ``signin`` view) is read by the columns ``extract.signin`` names for
its source version; of them, those a record may lack (``SIGNIN_OPTIONAL``: the target user, the
status, the MFA flag) are filled with nulls where the object has no such column. Its pairs also
count, per pair, the sign-ins with and without MFA and those that succeeded and failed
(``SIGNIN_COUNTS``, for the findings; the network views' pairs have no such columns).
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
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
# what DuckDB's aggregation of an object's pairs may hold before it spills to a scratch folder
AGGREGATE_MEMORY = "192MB"
GROUP = ["entity", "ip", "view", "status"]
# the pairs' columns of few distinct values, dictionary-encoded (the addresses are many)
ENCODED = ("entity", "view", "status")
TEXT_CODES = pa.dictionary(pa.int32(), pa.string())


@dataclass
class ObjectPairs:
    rows: int  # records in the object
    # the candidate pairs of the statuses scored (``PairSet.keep``): entity, ip, view, status,
    # and per pair its records (event_time_count) and first and last times (event_time_min,
    # event_time_max)
    pairs: pa.Table
    source: Source
    # VPC Flow: each instance's own addresses in the object (the end of a flow its ENI logged)
    own_addresses: dict[str, set[str]] = field(default_factory=dict)
    # the candidates of the other statuses: their records, by status
    dropped: dict[str, int] = field(default_factory=dict)

    @property
    def candidates(self) -> int:
        """Every candidate record, kept or dropped."""
        kept = pc.sum(self.pairs["event_time_count"]).as_py() or 0
        return int(kept) + sum(self.dropped.values())


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


def _absent(key: LakeKey, wanted: list[str]) -> list[pa.Field]:
    """The CloudTrail columns this object lacks, null-filled (a record may go without them)."""
    if key.source != Source.CLOUD_TRAIL_MGMT.value:
        return []
    schema = signin_schema(key.version)
    return [schema.field(c) for c in sorted(SIGNIN_OPTIONAL & set(schema.names)) if c not in wanted]


def _extended(table: pa.Table, key: LakeKey, absent: list[pa.Field]) -> pa.Table:
    """A batch with its null-filled columns and, for a 1.0 object, the partition columns
    Athena's 1.0 tables have."""
    for f in absent:
        table = table.append_column(f.name, pa.nulls(table.num_rows, f.type))
    if key.version == "1.0":
        n = table.num_rows
        for name, value in (
            ("region", key.region),
            ("accountId", key.account_id),
            ("eventDay", key.event_day),
        ):
            table = table.append_column(name, pa.array([value] * n, pa.string()))
    return table


def batch_schema(pf: pq.ParquetFile, wanted: list[str], key: LakeKey) -> pa.Schema:
    """The schema of the batches ``object_batches`` yields."""
    empty = pf.schema_arrow.empty_table().select(wanted)
    return _extended(empty, key, _absent(key, wanted)).schema


def object_batches(pf: pq.ParquetFile, wanted: list[str], key: LakeKey) -> Iterator[pa.Table]:
    """The object's ``wanted`` columns a row group at a time in ``BATCH_ROWS`` pieces, with the
    columns ``batch_schema`` names (the scorer's pairs and the RCF rows read them alike)."""
    absent = _absent(key, wanted)
    try:
        # a row group at a time: a file read in ranges fetches (pre-buffers) only its columns
        batches = (
            batch
            for group in range(pf.num_row_groups)
            for batch in pf.iter_batches(batch_size=BATCH_ROWS, row_groups=[group], columns=wanted)
        )
        for batch in batches:
            yield _extended(pa.Table.from_batches([batch]), key, absent)
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
        for _ in object_batches(pf, wanted, key):
            pass
    return pf.metadata.num_rows


@contextmanager
def capped_duckdb(prefix: str) -> Iterator[duckdb.DuckDBPyConnection]:
    """A one-thread DuckDB connection that holds at most ``AGGREGATE_MEMORY`` and spills the
    rest to a scratch folder (``prefix``, in the function's /tmp), removed after: the pair
    counts and the RCF feature rows (``scoring.rcf_rows``) run their queries on it."""
    with tempfile.TemporaryDirectory(prefix=prefix) as scratch:
        con = duckdb.connect(config={"threads": 1, "memory_limit": AGGREGATE_MEMORY})
        try:
            con.execute(f"SET temp_directory = '{scratch}'")
            yield con
        finally:
            con.close()


def query_failure(err: duckdb.Error, needs: str, mismatch: str) -> Exception:
    """A DuckDB query's error over an object's batches, as the scorer treats it: out of
    memory or of scratch space is the function's (``TransientError``: retried, ``needs`` says
    what needed it), anything else is the object's (``PoisonMessage``: columns of the right
    names but the wrong types, ``mismatch`` says which schema)."""
    first = str(err).splitlines()[0]
    if isinstance(err, duckdb.OutOfMemoryException | duckdb.IOException):
        return TransientError(
            f"{needs} more than DuckDB's {AGGREGATE_MEMORY} and the scratch space in "
            f"{tempfile.gettempdir()}: {first}"
        )
    return PoisonMessage(f"{mismatch}: {first}")


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
    owned: set[tuple[str, str]] = set()
    failed: list[BaseException] = []
    read = 0

    def batches() -> Iterator[pa.RecordBatch]:
        """The object's record batches, noting each instance's own addresses and checking
        the budget as they pass; a failure is kept for after the query (DuckDB, reading
        from this generator, would only say that it stopped)."""
        nonlocal read
        try:
            for n, table in enumerate(object_batches(pf, wanted, key), 1):
                if source is Source.VPC_FLOW:
                    owned.update(own_addresses(table))
                read += table.num_rows
                if budget is not None:
                    budget.check(f"reading record batch {n} ({read:,} of {rows:,} records)")
                yield from table.to_batches()
        except Exception as err:  # not GeneratorExit: DuckDB closing the reader is no failure
            failed.append(err)
            raise

    # one query over the whole object, its batches streamed in: DuckDB's aggregation holds at
    # most AGGREGATE_MEMORY and spills the rest to a scratch folder (the function's /tmp), so
    # memory follows neither the rows nor the object's distinct pairs, only the kept ones (in
    # DuckDB's order: on one thread, the same for the same object)
    dropped: dict[str, int] = {}
    duck_sql = translate(sql, {f"{ctx.glue_database}.{ctx.table(source)}": "lake_batch"})
    schema = batch_schema(pf, wanted, key)
    with capped_duckdb("lakewatch-pairs-") as con:
        con.register("lake_batch", pa.RecordBatchReader.from_batches(schema, batches()))
        try:
            counted = _kept(con.sql(duck_sql).fetch_record_batch(), pair_set.keep, dropped, signins)
        except duckdb.Error as err:
            if failed:  # the read failed, not the query: its own error
                raise failed[0] from None
            raise query_failure(
                err,
                f"{key.key}: counting its pairs needs",
                f"{key.key}: does not match the OCSF {key.source} {key.version} schema "
                "the views read",
            ) from None
    if failed:
        raise failed[0]
    pa.default_memory_pool().release_unused()  # the batches' buffers, back to the system
    mine: dict[str, set[str]] = {}
    for instance, ip in owned:
        mine.setdefault(instance, set()).add(ip)
    return ObjectPairs(rows, counted, source, mine, dropped)


def _kept(
    reader: pa.RecordBatchReader, keep: Iterable[str], dropped: dict[str, int], signins: bool
) -> pa.Table:
    """The counted pairs of the statuses scored, a result batch at a time; the records of the
    others summed into ``dropped`` by status (a pair's status follows from the pair alone)."""
    kept = []
    statuses = pa.array(sorted(keep), pa.string())
    for batch in reader:
        table = pa.Table.from_batches([batch])
        scored = pc.is_in(table["status"], statuses)
        rest = (
            table.filter(pc.invert(scored))
            .group_by("status")
            .aggregate([("event_time_count", "sum")])
        )
        for status, n in zip(
            rest["status"].to_pylist(), rest["event_time_count_sum"].to_pylist(), strict=True
        ):
            dropped[status] = dropped.get(status, 0) + n
        kept.append(_encoded(table.filter(scored)))
    if not kept:
        return _empty(signins)
    # one dictionary per column across the batches (few distinct values: small)
    return pa.concat_tables(kept).unify_dictionaries().cast(_empty(signins).schema)


def _encoded(table: pa.Table) -> pa.Table:
    """``ENCODED``'s columns as dictionaries: an entity's name held once, not per pair."""
    for name in ENCODED:
        i = table.schema.get_field_index(name)
        table = table.set_column(i, name, pc.dictionary_encode(table[name]))
    return table


def _empty(signins: bool = False) -> pa.Table:
    """No pairs, in the columns an object's pairs have (``signins``: with ``SIGNIN_COUNTS``)."""
    return pa.table(
        {
            "entity": pa.array([], TEXT_CODES),
            "ip": pa.array([], pa.string()),
            "view": pa.array([], TEXT_CODES),
            "status": pa.array([], TEXT_CODES),
            "event_time_count": pa.array([], pa.int64()),
            "event_time_min": pa.array([], pa.int64()),
            "event_time_max": pa.array([], pa.int64()),
            **{name: pa.array([], pa.int64()) for name in (SIGNIN_COUNTS if signins else ())},
        }
    )
