"""``lakewatch findings export``: a day's findings, ranked as the review page ranks them, with
their latest verdicts, as a pandas DataFrame written to CSV or Parquet.

The findings are read with SQL through the findings table (``include/sql/findings_day.sql``,
``lakewatch_findings``, its DDL in docs/operate.md#findings-in-athena): Athena on ``aws``,
DuckDB over the same Parquet files on ``local``, so an export is what an Athena user of the
table sees. The file appears only when complete: it is written beside its name and renamed.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa

from lakewatch.extract.views import render_sql
from lakewatch.review.rows import Row

COLUMNS = (
    "uid",
    "day",
    "severity",
    "severity_id",
    "kind",
    "title",
    "instances",
    "addresses",
    "view",
    "score",
    "threshold",
    "model_id",
    "source_object",
    "start_time",
    "count",
    "reputation",
    "reputation_cidr",
    "reputation_source",
    "corroborated_by",
    "verdict",
)
FORMATS = (".csv", ".parquet")


def findings_sql(database: str, table: str, day: date) -> str:
    return render_sql("findings_day.sql", database=database, table=table, day=f"{day:%Y%m%d}")


def _split(text: str | None) -> tuple[str, ...]:
    return tuple(t for t in (text or "").split(",") if t)


def rows_of(table: pa.Table, day: date) -> list[Row]:
    """The query's rows as review rows (``findings_day.sql``'s columns)."""
    return [
        Row(
            uid=r["uid"],
            day=day.isoformat(),
            severity_id=int(r["severity_id"]),
            severity=r["severity"],
            kind=r["kind"] or "",
            title=r["title"] or "",
            instances=_split(r["instances"]),
            addresses=_split(r["addresses"]),
            view=r["view"] or "",
            score=r["score"],
            threshold=r["threshold"],
            model_id=r["model_id"] or "",
            source_object=r["source_object"] or "",
            start_time=int(r["start_time"] or 0),
            count=int(r["count"] or 0),
        )
        for r in table.to_pylist()
    ]


def frame(reviewed: list[tuple[Row, str | None]]) -> pd.DataFrame:
    """One row per finding, highest priority first; lists joined with commas (semicolons for
    the Security Hub titles, which may hold commas)."""
    records = [
        {
            **r.as_dict(),
            "instances": ",".join(r.instances),
            "addresses": ",".join(r.addresses),
            "corroborated_by": "; ".join(r.corroborated_by),
            "verdict": verdict,
        }
        for r, verdict in reviewed
    ]
    df = pd.DataFrame.from_records(records, columns=list(COLUMNS))
    return df.astype({"severity_id": "int32", "start_time": "int64", "count": "int64"})


def write(df: pd.DataFrame, out: Path) -> None:
    """CSV or Parquet by the name's suffix; a half-written file never carries the name."""
    if out.suffix not in FORMATS:
        raise ValueError(f"--out must end in .csv or .parquet: {out}")
    tmp = out.with_name(f".{out.name}.partial")
    try:
        if out.suffix == ".parquet":
            df.to_parquet(tmp, index=False)
        else:
            df.to_csv(tmp, index=False)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
