"""Extraction on DuckDB over a 10M-row lake, beside a plain pyarrow scan of the same files.

The lake is written to a local folder once; both read the same GZIP Parquet. DuckDB runs the
project's SQL (default views, counts + export query); the baseline scans the columns those views
touch with pyarrow, filters outbound flows and projects (instance, destination), the least any
engine must do.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, date, datetime, timedelta

from bench.common import isolated, row

START = date(2026, 11, 1)


def _lake(root: str, rows: int) -> int:
    from lakewatch.lake.sink import LocalStore
    from lakewatch.lake.synthetic import GenerateOptions
    from lakewatch.lake.write import write_lake

    days = max(1, rows // 5_000_000)
    write_lake(GenerateOptions(days=days, start=START, rows_per_day=rows // days), LocalStore(root))
    return days


def duckdb_extract(root: str, days: int) -> dict:
    """The local backend's extract path: classify, count and export in one DuckDB pass."""
    from lakewatch.extract.engine import DuckAthena, LakeLocation
    from lakewatch.extract.export import ExtractSummary, PairSet
    from lakewatch.extract.views import QueryContext
    from lakewatch.lake.sink import LocalStore

    pair_set = PairSet()
    ctx = QueryContext(
        region="us-east-1",
        source_version="2.0",
        start=datetime.combine(START, datetime.min.time(), UTC),
        end=datetime.combine(START + timedelta(days=days), datetime.min.time(), UTC),
        views=pair_set.views,
        keep=pair_set.keep,
    )
    engine = DuckAthena(LakeLocation.open(root))
    summary = ExtractSummary(day=str(START), pair_set=pair_set.key, source_version="2.0")
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        engine.extract(ctx, LocalStore(out), "extract/", "bench", summary)
        seconds = time.perf_counter() - started
    candidates = sum(n for statuses in summary.by_view.values() for n in statuses.values())
    return {"seconds": seconds, "pairs": summary.rows, "candidates": candidates}


def pyarrow_scan(root: str) -> dict:
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    started = time.perf_counter()
    data = ds.dataset(f"{root}/aws/VPC_FLOW", format="parquet")
    table = data.to_table(
        columns={
            "entity": ds.field("src_endpoint", "instance_uid"),
            "ip": ds.field("dst_endpoint", "ip"),
            "direction": ds.field("connection_info", "direction_id"),
        }
    )
    out = table.filter(pc.equal(table["direction"], 2))
    return {"seconds": time.perf_counter() - started, "pairs": out.num_rows}


def prepare(rows: int) -> dict:
    root = tempfile.mkdtemp(prefix="lakewatch-bench-lake-")
    return {"root": root, "days": _lake(root, rows)}


def run(quick: bool = False) -> list[str]:
    import shutil

    rows = 1_000_000 if quick else 10_000_000
    lake = isolated("bench.extract", "prepare", rows=rows)
    try:
        duck = isolated("bench.extract", "duckdb_extract", root=lake["root"], days=lake["days"])
        base = isolated("bench.extract", "pyarrow_scan", root=lake["root"])
    finally:
        shutil.rmtree(lake["root"], ignore_errors=True)
    lake_rows = rows  # generated rows (VPC Flow + Route 53)
    duck_rate = lake_rows / duck["seconds"]
    base_rate = lake_rows / base["seconds"]
    return [
        f"extract ({lake_rows:,}-row lake, default views: classify, count, write CSV)",
        row(
            "DuckDB, lake rows/s",
            f"{duck_rate:,.0f}",
            f"{duck_rate / base_rate:.2f}x a plain pyarrow scan ({base_rate:,.0f}/s, "
            "one view, no classification)",
        ),
        row("pairs exported / candidates", f"{duck['pairs']:,} / {duck['candidates']:,}"),
        row(
            "peak RSS, MB (DuckDB / pyarrow)",
            f"{duck['peak_rss_mb']:,.0f} / {base['peak_rss_mb']:,.0f}",
        ),
    ]
