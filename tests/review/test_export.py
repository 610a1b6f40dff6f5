"""review.export: the day's SQL over the findings table, its rows back as review rows (the
same rows the desk reads from the files), a DataFrame in rank order, and files that appear
only when complete."""

from datetime import date

import pandas as pd
import pyarrow as pa
import pytest

from lakewatch.backends import LocalBackend
from lakewatch.review import export
from lakewatch.review.desk import Desk
from tests.review.conftest import DAY


def test_the_days_sql_names_the_table_and_partition():
    sql = export.findings_sql("lakewatch", "lakewatch_findings", date(2026, 11, 30))
    assert "FROM lakewatch.lakewatch_findings" in sql and "eventday = '20261130'" in sql


def test_sql_rows_are_the_rows_the_desk_reads_from_the_files(reviewed, clients):
    settings, store, uids = reviewed
    sql = export.findings_sql(settings.findings_database, settings.findings_table, DAY)
    table = LocalBackend(settings).query_findings(clients, sql, DAY)  # DuckDB over the files
    desk = Desk(store, settings.findings_prefix, settings.feedback_prefix)
    from_sql = [row for row, _ in desk.reviewed_rows(DAY, export.rows_of(table, DAY))]
    from_files = [row for row, _ in desk.reviewed(DAY)]
    assert from_sql == from_files and [r.uid for r in from_sql] == uids
    assert from_sql[1].instances == ("i-2",) and from_sql[1].addresses == ("10.9.8.7",)
    empty = LocalBackend(settings).query_findings(
        clients, sql.replace("20261130", "20261129"), date(2026, 11, 29)
    )
    assert export.rows_of(empty, date(2026, 11, 29)) == []


def test_frame_and_write(reviewed, tmp_path):
    settings, store, uids = reviewed
    desk = Desk(store, settings.findings_prefix, settings.feedback_prefix)
    df = export.frame(desk.reviewed(DAY))
    assert isinstance(df, pd.DataFrame) and list(df.columns) == list(export.COLUMNS)
    assert df["uid"].tolist() == uids and df["instances"].tolist() == ["i-1", "i-2"]
    for name in ("out.csv", "out.parquet"):
        export.write(df, tmp_path / name)
    assert pd.read_parquet(tmp_path / "out.parquet")["uid"].tolist() == uids
    assert pd.read_csv(tmp_path / "out.csv")["severity_id"].tolist() == df["severity_id"].tolist()
    with pytest.raises(ValueError, match=r"\.csv or \.parquet"):
        export.write(df, tmp_path / "out.txt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "out.parquet"]


def test_a_failed_write_leaves_no_file(tmp_path):
    df = pd.DataFrame({"uid": [object()]})  # Parquet cannot hold a bare object
    with pytest.raises((pa.ArrowException, TypeError, ValueError)):
        export.write(df, tmp_path / "out.parquet")
    assert list(tmp_path.iterdir()) == []
