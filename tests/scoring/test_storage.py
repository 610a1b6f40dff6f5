"""scoring.storage: findings round-trip through the explicit Parquet schema, and each source
object and model has one findings file in the custom-source layout (a rerun rewrites it)."""

import io

import pyarrow.parquet as pq

from lakewatch.scoring.pair_findings import findings_for
from lakewatch.scoring.storage import SCHEMA, to_parquet
from tests.scoring.test_pair_findings import SOURCE, THRESHOLD, _pair


def test_parquet_round_trip():
    findings = findings_for(
        [_pair(-2.5)], threshold=THRESHOLD, source=SOURCE, bucket="lake", now_ms=1
    )
    table = pq.read_table(io.BytesIO(to_parquet(findings)))
    assert table.schema.equals(SCHEMA)
    row = table.to_pylist()[0]
    assert row["finding_info"]["uid"] == findings[0]["finding_info"]["uid"]
    assert dict(row["unmapped"])["lakewatch.model_id"] == "ipi-1"


def test_one_file_per_source_object_and_model():
    from lakewatch.scoring.storage import findings_key

    key = findings_key("ext/lakewatch/", SOURCE, "ipi-1")
    assert key.startswith(
        f"ext/lakewatch/region={SOURCE.region}/accountId={SOURCE.account_id}/"
        f"eventDay={SOURCE.event_day}/"
    )
    assert key.endswith(".parquet") and key == findings_key("ext/lakewatch/", SOURCE, "ipi-1")
    assert key != findings_key("ext/lakewatch/", SOURCE, "ipi-2")
