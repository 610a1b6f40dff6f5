"""A day of findings on the emulator, for the command line's and the review page's tests."""

from datetime import UTC, date, datetime

import pytest

from lakewatch.lake.layout import parse_key
from lakewatch.lake.sink import S3Store
from lakewatch.scoring.findings import ScoredPair, make_finding
from lakewatch.scoring.storage import findings_key, to_parquet

DAY = date(2026, 11, 30)
SOURCE = (
    "aws/VPC_FLOW/2.0/region=us-east-1/accountId=111122223333/eventDay=20261130/part-0001.parquet"
)
THRESHOLD = {"threshold": -1.9, "model_id": "ipi-x", "scale": 1.0, "target_fpr": 0.001}


@pytest.fixture
def reviewed(aws, clients, monkeypatch):
    settings, _ = aws
    for name, value in {
        "LAKEWATCH_EMULATOR_PORT": str(settings.emulator_port),
        "LAKEWATCH_STATE_DIR": str(settings.state_dir),
        "LAKEWATCH_RESULTS_BUCKET": settings.results_bucket_name,
        "LAKEWATCH_ANALYST": "alice",
    }.items():
        monkeypatch.setenv(name, value)
    key = parse_key(SOURCE)
    start = int(datetime(2026, 11, 30, 3, tzinfo=UTC).timestamp() * 1000)
    pairs = [
        ScoredPair("i-1", "45.110.185.181", "egress_peer", -6.0, True, 3, start, start + 60_000),
        ScoredPair("i-2/in", "10.9.8.7", "ingress_peer", -2.0, True, 1, start, start),
    ]
    findings = [
        make_finding(
            p, "anomalous_pair", threshold=THRESHOLD, source=key, bucket="lake", now_ms=start
        )
        for p in pairs
    ]
    store = S3Store(clients("s3"), settings.results_bucket_name)
    store.put(findings_key(settings.findings_prefix, key, "ipi-x"), to_parquet(findings))
    return settings, store, [f["finding_info"]["uid"] for f in findings]
