"""scoring.storage: findings round-trip through the explicit Parquet schema, and each source
object and model has one findings file in the custom-source layout (a rerun rewrites it)."""

import io

import pyarrow.parquet as pq

from lakewatch.lake.layout import parse_key
from lakewatch.scoring.findings import ScoredPair, findings_for
from lakewatch.scoring.storage import SCHEMA, to_parquet

THRESHOLD = {
    "threshold": 0.0,
    "model_id": "ipi-1",
    "target_fpr": 0.01,
    "scale": 1.0,
    "day": "2026-11-01",
}


SOURCE = parse_key(
    "aws/VPC_FLOW/2.0/region=us-east-1/accountId=123456789012/eventDay=20261101/abc.gz.parquet"
)


def _pair(score, known=True, view="egress_peer", first=1_793_491_200_000):
    return ScoredPair(
        "i-0abc" + ("/in" if view == "ingress_peer" else ""),
        "45.1.2.3",
        view,
        score,
        known,
        7,
        first,
        first + 1000,
    )


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
