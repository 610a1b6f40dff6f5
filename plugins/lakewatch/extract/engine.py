"""The local backend's Athena: the same SQL on DuckDB over the lake's Parquet objects.

Each Glue table is a DuckDB view over ``read_parquet`` of the objects in the interval's
eventDay partitions only (Athena's partition pruning), read natively with projection and
filter pushdown; an S3 lake's objects are copied to a scratch folder first (DuckDB's httpfs
extension cannot be installed offline). Athena's SQL is translated with sqlglot, and its Glue
table names are pointed at those views.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import sqlglot
from pyarrow import fs
from sqlglot import exp

from lakewatch.aws.clients import AwsClients, arrow_s3
from lakewatch.aws.s3 import S3Uri
from lakewatch.extract.export import SPLITS, summarize_counts
from lakewatch.extract.views import STATUSES, VIEWS, QueryContext, render, sources_used
from lakewatch.lake.layout import Source, parse_key, source_prefix
from lakewatch.lake.schemas import schema_for
from lakewatch.names import extract_attempt_prefix

# DuckDB's own memory ceiling for a query; past it, the extract's table spills to disk.
MEMORY_LIMIT = "768MB"
_PARTITIONS_V1 = pa.schema(
    [("region", pa.string()), ("accountId", pa.string()), ("eventDay", pa.string())]
)


def translate(athena_sql: str, tables: dict[str, str]) -> str:
    """Trino SQL -> DuckDB SQL, with qualified Glue table names replaced by local names."""
    tree = sqlglot.parse_one(athena_sql, read="trino")
    for select in list(tree.find_all(exp.Select)):
        _unnest_in_select(select)
    for table in tree.find_all(exp.Table):
        db = table.args.get("db")
        key = f"{db.name}.{table.name}" if db else table.name
        if key in tables:
            table.replace(
                exp.to_table(tables[key]).as_(table.alias or table.name, quoted=True)
                if table.alias
                else exp.to_table(tables[key])
            )
    return tree.sql(dialect="duckdb")


def _unnest_in_select(select: exp.Select) -> None:
    """``FROM t CROSS JOIN UNNEST(list) AS a(x) WHERE w`` -> ``FROM (SELECT *, UNNEST(list)
    AS x FROM t WHERE w) AS a``: the same rows, but DuckDB runs a lateral UNNEST join row by
    row (the DNS view's answers took 80% of the extract) and a select-list UNNEST as a
    vectorised operator, 9x faster. Only the plain shape is rewritten: one table, one
    single-column UNNEST, a WHERE that does not read the unnested column."""
    joins = select.args.get("joins") or []
    source = select.args.get("from_") or select.args.get("from")
    if len(joins) != 1 or source is None or not isinstance(source.this, exp.Table):
        return
    join, table = joins[0], source.this
    unnest = join.this
    if (
        not isinstance(unnest, exp.Unnest)
        or join.args.get("on")
        or unnest.args.get("offset")
        or len(unnest.expressions) != 1
        or not isinstance(unnest.args.get("alias"), exp.TableAlias)
        or len(unnest.args["alias"].columns) != 1
        or table.alias
    ):
        return
    alias = unnest.args["alias"].name
    column = unnest.args["alias"].columns[0].name
    where = select.args.get("where")
    if where is not None and any(c.table == alias for c in where.find_all(exp.Column)):
        return
    inner = exp.select(
        exp.Star(), exp.alias_(exp.Unnest(expressions=[unnest.expressions[0].copy()]), column)
    ).from_(table.copy())
    if where is not None:
        inner = inner.where(where.this.copy())
        select.set("where", None)
    select.set("joins", None)
    source.set("this", inner.subquery(alias))


def query_parquet(athena_sql: str, tables: dict[str, list[str]]) -> pa.Table:
    """Athena SQL on DuckDB over local Parquet files: each Glue name in ``tables`` reads its
    files (Hive partitions from their paths, as Athena's partition columns); a name with no
    files is an empty result, not an error (a day with nothing written)."""
    con = duckdb.connect()
    try:
        names = {}
        for n, (glue, files) in enumerate(sorted(tables.items())):
            if not files:
                return pa.table({})
            listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
            con.execute(
                f"CREATE VIEW t{n} AS SELECT * FROM read_parquet([{listed}], "
                "hive_partitioning = true, hive_types_autocast = false, union_by_name = true)"
            )
            names[glue] = f"t{n}"
        return con.sql(translate(athena_sql, names)).to_arrow_table()
    finally:
        con.close()


@dataclass(frozen=True)
class LakeLocation:
    """A lake's root on a pyarrow filesystem: ``bucket/prefix`` on S3 or a local folder."""

    filesystem: fs.FileSystem
    root: str

    @classmethod
    def open(
        cls, uri: str, clients: AwsClients | None = None, region: str = "us-east-1"
    ) -> LakeLocation:
        if uri.startswith("s3://"):
            if clients is None:
                raise ValueError(f"opening {uri} needs AWS clients")
            s3 = S3Uri.parse(uri)
            return cls(arrow_s3(clients, region), f"{s3.bucket}/{s3.key}".rstrip("/"))
        return cls(fs.LocalFileSystem(), str(uri).rstrip("/"))

    def _join(self, key: str) -> str:
        return f"{self.root}/{key}" if self.root else key

    def objects(self, source: Source, version: str, region: str, days: list[str]) -> list[str]:
        """Paths of the source's objects in the given eventDay partitions."""
        return [info.path for info in self._listed(source, version, region, days)]

    def _listed(
        self, source: Source, version: str, region: str, days: list[str]
    ) -> list[fs.FileInfo]:
        """The listing of those objects (with their sizes), sorted by path."""
        base = self._join(source_prefix(source, version, region))
        try:
            infos = self.filesystem.get_file_info(
                fs.FileSelector(base, recursive=True, allow_not_found=True)
            )
        except (FileNotFoundError, OSError):
            return []
        wanted = set(days)
        out = []
        for info in infos:
            if info.type != fs.FileType.File:
                continue
            key = parse_key(info.path[len(self.root) :].lstrip("/"))
            if key and key.event_day in wanted:
                out.append(info)
        return sorted(out, key=lambda info: info.path)

    def local_files(
        self, source: Source, version: str, region: str, days: list[str], cache: Path
    ) -> list[str]:
        """The objects as local files DuckDB reads natively: a folder lake's own files, or an
        S3 lake's objects copied under ``cache`` at their keys (the hive partition folders
        kept), each checked against the size S3 listed. DuckDB's own S3 reader (httpfs) is
        an extension that needs downloading, which an offline machine cannot."""
        listed = self._listed(source, version, region, days)
        if isinstance(self.filesystem, fs.LocalFileSystem):
            return [info.path for info in listed]
        out = []
        for info in listed:  # the listing's sizes: no second request per object
            local = cache / info.path[len(self.root) :].lstrip("/")
            local.parent.mkdir(parents=True, exist_ok=True)
            with self.filesystem.open_input_stream(info.path) as src, local.open("wb") as dst:
                shutil.copyfileobj(src, dst, 8 * 1024 * 1024)
            if local.stat().st_size != info.size:
                raise OSError(f"{info.path}: copied {local.stat().st_size} of {info.size} bytes")
            out.append(str(local))
        return out


def _empty(source: Source, version: str) -> pa.Table:
    schema = schema_for(source, version)
    if version == "1.0":
        for f in _PARTITIONS_V1:
            schema = schema.append(f)
    return schema.empty_table()


class DuckAthena:
    """Runs Athena SQL on DuckDB over a lake location, or over in-memory tables."""

    name = "duckdb"

    def __init__(
        self,
        location: LakeLocation | None = None,
        tables: dict[Source, Any] | None = None,
        threads: int | None = None,
    ):
        if (location is None) == (tables is None):
            raise ValueError("give a lake location or in-memory tables, not both")
        self.location = location
        self.tables = tables or {}
        self.threads = threads

    @contextmanager
    def connect(self, ctx: QueryContext) -> Iterator[tuple[duckdb.DuckDBPyConnection, dict]]:
        """A DuckDB connection with the interval's Glue tables as views; yields it and the
        Glue-name -> view-name map ``translate`` takes. Lake files are read natively by
        DuckDB (projection and filter pushdown into the Parquet), spilling to a scratch
        folder past ``MEMORY_LIMIT``."""
        with tempfile.TemporaryDirectory(prefix="lakewatch-duck-") as scratch:
            con = duckdb.connect()
            if self.threads:
                con.execute(f"SET threads = {int(self.threads)}")
            con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
            con.execute("SET preserve_insertion_order = true")  # reruns write the same bytes
            con.execute(f"SET temp_directory = '{scratch}/spill'")
            names = {}
            try:
                for source in sources_used(ctx.views):
                    local = f"lake_{source.value.lower()}"
                    files = (
                        self.location.local_files(
                            source, ctx.source_version, ctx.region, ctx.days(), Path(scratch)
                        )
                        if self.location is not None
                        else []
                    )
                    if files:
                        listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
                        con.execute(
                            f"CREATE VIEW {local} AS SELECT * FROM read_parquet([{listed}], "
                            f"hive_partitioning = {str(ctx.source_version == '1.0').lower()}, "
                            "hive_types_autocast = false, union_by_name = true)"
                        )
                    else:
                        con.register(
                            local, self.tables.get(source, _empty(source, ctx.source_version))
                        )
                    names[f"{ctx.glue_database}.{ctx.table(source)}"] = local
                yield con, names
            finally:
                con.close()

    def query(self, athena_sql: str, ctx: QueryContext) -> pa.Table:
        with self.connect(ctx) as (con, names):
            return con.sql(translate(athena_sql, names)).to_arrow_table()

    def extract(self, ctx: QueryContext, store, prefix: str, attempt: str, summary) -> None:
        """One scan of the lake into a DuckDB table of classified candidates (spilled to disk
        when large), then the counts, and each split's kept pairs written as CSV by DuckDB:
        memory stays bounded however many rows the day has."""
        keep = ", ".join(f"'{k}'" for k in ctx.keep)
        with self.connect(ctx) as (con, names), tempfile.TemporaryDirectory() as out:
            sql = translate(render("classified.sql", ctx), names)
            # the label columns as DuckDB ENUMs (one byte a row, not a 16-byte string): the
            # table of a 10M-row day then fits the memory limit instead of spilling to disk
            for name, values in (("view", VIEWS), ("status", STATUSES), ("split", SPLITS)):
                listed = ", ".join(f"'{v}'" for v in values)
                con.execute(f"CREATE TYPE pair_{name} AS ENUM ({listed})")
            con.execute(
                "CREATE TEMP TABLE classified AS SELECT entity, ip, view::pair_view AS view, "
                "status::pair_status AS status, split::pair_split AS split "
                f"FROM ({sql}) AS candidates"
            )
            summary.queries.append("duckdb:classified.sql")
            counts = con.sql(
                "SELECT view::VARCHAR AS view, status::VARCHAR AS status, count(*) AS rows, "
                "count(DISTINCT entity) AS entities "
                "FROM classified GROUP BY view, status"
            ).to_arrow_table()
            summarize_counts(counts, ctx.keep, summary)
            for split in SPLITS:
                path = Path(out) / f"{split}.csv"
                # in the lake's order (objects by key, rows as written): DuckDB keeps a
                # table's insertion order through scans, UNION ALL, WHERE and COPY
                # (preserve_insertion_order, on by default), so a rerun writes
                # byte-identical objects whatever the threads did, without a sort (which
                # was a quarter of the extract)
                con.execute(
                    "COPY (SELECT entity, ip FROM classified "
                    f"WHERE split = '{split}' AND status IN ({keep})) "
                    f"TO '{path}' (FORMAT csv, HEADER false, QUOTE '', ESCAPE '')"
                )
                key = f"{extract_attempt_prefix(prefix, attempt)}{split}.csv"
                store.put_file(key, path)
                summary.parts[split] = [key]
            [(*per_split, summary.entities)] = con.sql(
                "SELECT "
                + "".join(f"count(*) FILTER (WHERE split = '{split}'), " for split in SPLITS)
                + f"count(DISTINCT entity) FROM classified WHERE status IN ({keep})"
            ).fetchall()
            summary.split_rows = {split: int(n) for split, n in zip(SPLITS, per_split, strict=True)}
            summary.rows = sum(summary.split_rows.values())
            summary.attempt = attempt
