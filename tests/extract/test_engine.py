"""extract.engine: Athena's SQL translated for DuckDB, and an S3 lake copied to a scratch folder at
its keys for DuckDB to read."""

from datetime import UTC, date, datetime
from pathlib import Path

from lakewatch.extract.engine import LakeLocation, translate
from lakewatch.extract.views import VIEWS, QueryContext, render
from lakewatch.lake.synthetic import GenerateOptions
from lakewatch.lake.write import write_lake

ALL = tuple(VIEWS)


def _ctx(version, start, end, views=ALL, keep=("ok", "ipv6")):
    return QueryContext(
        region="us-east-1", source_version=version, start=start, end=end, views=views, keep=keep
    )


def test_rendered_sql_is_athena_and_translates():
    ctx = _ctx("2.0", datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC))
    sql = render("extract.sql", ctx)
    assert (
        '"amazon_security_lake_glue_db_us_east_1"."amazon_security_lake_table_us_east_1_'
        'vpc_flow_2_0"' in sql
    )
    assert "time_dt >= TIMESTAMP '2026-11-01 00:00:00'" in sql
    assert "transform(filter(answers" in sql
    duck = translate(
        sql,
        {
            "amazon_security_lake_glue_db_us_east_1."
            "amazon_security_lake_table_us_east_1_vpc_flow_2_0": "vpc"
        },
    )
    assert "LAMBDA a" in duck and " vpc" in duck
    v1 = render("extract.sql", _ctx("1.0", ctx.start, ctx.end))
    assert "eventday BETWEEN '20261101' AND '20261101'" in v1


def test_an_s3_lake_is_copied_for_duckdb_at_its_keys(aws, clients, tmp_path):
    """DuckDB reads files natively; an S3 lake's interval is copied with its partition folders
    (1.0's hive columns come from them) and every copy matches its object."""
    from lakewatch.lake.layout import Source
    from lakewatch.lake.sink import S3Store

    settings, _ = aws
    store = S3Store(clients("s3"), settings.lake_bucket_name)
    write_lake(GenerateOptions(days=2, start=date(2026, 11, 1), rows_per_day=2000), store)
    loc = LakeLocation.open(f"s3://{settings.lake_bucket_name}", clients, "us-east-1")
    files = loc.local_files(Source.VPC_FLOW, "2.0", "us-east-1", ["20261102"], tmp_path)
    assert files and all("eventDay=20261102" in f for f in files)
    for f in files:
        key = f[len(str(tmp_path)) + 1 :]
        assert Path(f).read_bytes() == store.get(key)


def test_an_extract_rerun_writes_the_same_bytes_on_every_thread_count(tmp_path):
    """No ORDER BY: the CSVs follow the lake's order (DuckDB's insertion order through scans,
    UNION ALL, WHERE and COPY), so reruns, parallel or not, publish identical objects."""
    import hashlib

    from lakewatch.extract.engine import DuckAthena
    from lakewatch.extract.export import ExtractSummary, PairSet
    from lakewatch.lake.sink import LocalStore

    lake = tmp_path / "lake"
    write_lake(
        GenerateOptions(days=1, start=date(2026, 11, 1), rows_per_day=60_000, seed=5),
        LocalStore(lake),
    )
    pair_set = PairSet()
    ctx = _ctx(
        "2.0",
        datetime(2026, 11, 1, tzinfo=UTC),
        datetime(2026, 11, 2, tzinfo=UTC),
        views=pair_set.views,
        keep=pair_set.keep,
    )

    def run(threads, n):
        out = LocalStore(tmp_path / f"out{n}")
        summary = ExtractSummary(day="2026-11-01", pair_set=pair_set.key, source_version="2.0")
        DuckAthena(LakeLocation.open(str(lake)), threads=threads).extract(
            ctx, out, "x/", "a", summary
        )
        files = sorted(out.list(""))
        assert [f.rsplit("/", 1)[1] for f in files] == ["train.csv", "validation.csv"]
        return summary.rows, [hashlib.sha256(out.get(f)).hexdigest() for f in files]

    first = run(2, 1)
    assert first[0] > 50_000
    assert run(2, 2) == first
    assert run(1, 3) == first
