"""The local backend's Athena: the same SQL on DuckDB over the lake's Parquet objects.

The lake (an S3 bucket in the emulator or on AWS, or a folder) is opened as pyarrow datasets,
one per Glue table, holding only the objects of the interval's eventDay partitions (Athena's
partition pruning); DuckDB scans them with projection and filter pushdown. Athena's SQL is
translated with sqlglot, and its Glue table names are pointed at those datasets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import sqlglot
from pyarrow import fs
from sqlglot import exp

from lakewatch.aws.clients import arrow_s3
from lakewatch.aws.s3 import S3Uri
from lakewatch.extract.views import QueryContext, sources_used
from lakewatch.lake.layout import Source, parse_key, source_prefix
from lakewatch.lake.schemas import schema_for

_PARTITIONS_V1 = pa.schema(
    [("region", pa.string()), ("accountId", pa.string()), ("eventDay", pa.string())]
)


def translate(athena_sql: str, tables: dict[str, str]) -> str:
    """Trino SQL -> DuckDB SQL, with qualified Glue table names replaced by local names."""
    tree = sqlglot.parse_one(athena_sql, read="trino")
    for table in tree.find_all(exp.Table):
        key = f"{table.args.get('db').name}.{table.name}" if table.args.get("db") else table.name
        if key in tables:
            table.replace(
                exp.to_table(tables[key]).as_(table.alias or table.name, quoted=True)
                if table.alias
                else exp.to_table(tables[key])
            )
    return tree.sql(dialect="duckdb")


@dataclass(frozen=True)
class LakeLocation:
    """A lake's root on a pyarrow filesystem: ``bucket/prefix`` on S3 or a local folder."""

    filesystem: fs.FileSystem
    root: str

    @classmethod
    def open(cls, uri: str, clients: Any = None, region: str = "us-east-1") -> LakeLocation:
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
                out.append(info.path)
        return sorted(out)

    def dataset(self, source: Source, version: str, region: str, days: list[str]) -> Any:
        paths = self.objects(source, version, region, days)
        if version == "1.0":
            partitioning = ds.partitioning(_PARTITIONS_V1, flavor="hive")
            base = self._join(source_prefix(source, version, region))
            if not paths:
                return _empty(source, version)
            return ds.dataset(
                paths,
                filesystem=self.filesystem,
                format="parquet",
                partitioning=partitioning,
                partition_base_dir=base.rstrip("/"),
            )
        if not paths:
            return _empty(source, version)
        return ds.dataset(paths, filesystem=self.filesystem, format="parquet")


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

    def query(self, athena_sql: str, ctx: QueryContext) -> pa.Table:
        con = duckdb.connect()
        if self.threads:
            con.execute(f"SET threads = {int(self.threads)}")
        names = {}
        for source in sources_used(ctx.views):
            local = f"lake_{source.value.lower()}"
            if self.location is not None:
                data = self.location.dataset(source, ctx.source_version, ctx.region, ctx.days())
            else:
                data = self.tables.get(source, _empty(source, ctx.source_version))
            con.register(local, data)
            names[f"{ctx.glue_database}.{ctx.table(source)}"] = local
        try:
            return con.sql(translate(athena_sql, names)).to_arrow_table()
        finally:
            con.close()

    def extract(self, ctx: QueryContext, store, prefix: str, attempt: str, summary) -> None:
        """One pass: classify every candidate pair, count them, export the kept ones."""
        import pyarrow.compute as pc

        from lakewatch.extract.export import summarize_counts, write_parts
        from lakewatch.extract.views import render

        # ordered: a rerun writes byte-identical objects whatever order the scan threads took
        rows = self.query(
            f"SELECT * FROM ({render('classified.sql', ctx)}) AS c ORDER BY entity, ip", ctx
        )
        summary.queries.append("duckdb:classified.sql")
        counts = (
            rows.group_by(["view", "status"])
            .aggregate([("entity", "count"), ("entity", "count_distinct")])
            .rename_columns(["view", "status", "rows", "entities"])
        )
        summarize_counts(counts, ctx.keep, summary)
        kept = rows.filter(pc.is_in(rows["status"], pa.array(list(ctx.keep))))
        write_parts(store, prefix, attempt, kept, summary)
