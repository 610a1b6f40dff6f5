"""Synthetic lake generator: rows/s and peak memory at 10M rows.

Baselines measured in the same run: the rate at which pyarrow alone writes the same kind of
GZIP Parquet (the floor any generator pays), and the peak memory of a process that only
imports the libraries.
"""

from __future__ import annotations

import tempfile
import time
from datetime import date

from bench.common import isolated, row


def generate(rows: int) -> dict:
    from lakewatch.lake.sink import LocalStore
    from lakewatch.lake.synthetic import GenerateOptions
    from lakewatch.lake.write import write_lake

    with tempfile.TemporaryDirectory() as tmp:
        days = max(1, rows // 5_000_000)
        summary = write_lake(
            GenerateOptions(days=days, start=date(2026, 11, 1), rows_per_day=rows // days),
            LocalStore(tmp),
        )
    return {
        "rows": summary.total_rows,
        "seconds": summary.seconds,
        "bytes": summary.bytes,
        "objects": summary.objects,
    }


def write_only(rows: int) -> dict:
    """pyarrow writing pre-built tables of the same schema: the write cost alone."""
    from lakewatch.lake.synthetic import GenerateOptions, LakeGenerator
    from lakewatch.lake.write import parquet_bytes

    tables = [
        o.table
        for o in LakeGenerator(
            GenerateOptions(days=1, start=date(2026, 11, 1), rows_per_day=min(rows, 1_000_000))
        ).objects()
    ]
    done, started = 0, time.perf_counter()
    while done < rows:
        for t in tables:
            parquet_bytes(t)
            done += t.num_rows
    return {"rows": done, "seconds": time.perf_counter() - started}


def imports_only() -> dict:
    import lakewatch.lake.write  # noqa: F401

    return {}


def run(quick: bool = False) -> list[str]:
    rows = 200_000 if quick else 10_000_000
    gen = isolated("bench.generator", "generate", rows=rows)
    base = isolated("bench.generator", "write_only", rows=min(rows, 3_000_000))
    idle = isolated("bench.generator", "imports_only")
    gen_rate = gen["rows"] / gen["seconds"]
    base_rate = base["rows"] / base["seconds"]
    return [
        f"generator ({gen['rows']:,} rows, {gen['objects']} objects, "
        f"{gen['bytes'] / 1e6:.0f} MB GZIP Parquet)",
        row(
            "generate + write, rows/s",
            f"{gen_rate:,.0f}",
            f"{gen_rate / base_rate:.2f}x the write-only baseline",
        ),
        row("baseline: pyarrow GZIP write only, rows/s", f"{base_rate:,.0f}"),
        row(
            "peak RSS, MB",
            f"{gen['peak_rss_mb']:,.0f}",
            f"{gen['peak_rss_mb'] / idle['peak_rss_mb']:.1f}x an idle import "
            f"({idle['peak_rss_mb']:.0f} MB)",
        ),
    ]
