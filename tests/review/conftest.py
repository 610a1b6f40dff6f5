"""A day of findings on the emulator, for the command line's and the review page's tests."""

import io
from datetime import UTC, date, datetime

import pyarrow.parquet as pq
import pytest

from lakewatch.lake.layout import Source, object_key, parse_key
from lakewatch.lake.sink import S3Store
from lakewatch.lake.synthetic.security_hub import ShFinding, sh_table
from lakewatch.scoring.pair_findings import ScoredPair, make_finding
from lakewatch.scoring.storage import findings_key, to_parquet
from lakewatch.threshold.published import PublishedThreshold

DAY = date(2026, 11, 30)
SOURCE = (
    "aws/VPC_FLOW/2.0/region=us-east-1/accountId=111122223333/eventDay=20261130/part-0001.parquet"
)
THRESHOLD = PublishedThreshold(threshold=-1.9, model_id="ipi-x", scale=1.0, target_fpr=0.001)


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


def lake_with_guardduty(clients, settings, instance: str, address: str):
    """A lake bucket holding one GuardDuty finding on ``instance`` and ``address``, ten
    minutes after the day's findings begin."""
    clients("s3").create_bucket(Bucket=settings.lake_bucket_name)
    lake = S3Store(clients("s3"), settings.lake_bucket_name)
    at = 1_796_007_600_000 + 600_000  # ten minutes after the findings' first event
    found = [ShFinding("x", "Recon on " + instance, "Recon:EC2/Portscan", 2, at, instance, address)]
    buf = io.BytesIO()
    pq.write_table(sh_table(found, "111122223333", "us-east-1"), buf)
    key = object_key(Source.SH_FINDINGS, "2.0", "us-east-1", "111122223333", DAY, "sh.parquet")
    lake.put(key, buf.getvalue())
    return lake


SIGNIN_SOURCE = (
    "aws/CLOUD_TRAIL_MGMT/2.0/region=us-east-1/accountId=111122223333/eventDay=20261130/"
    "ct-0001.gz.parquet"
)
PRINCIPAL = "arn:aws:iam::111122223333:user/legacy-admin"


def add_signin_finding(settings, store) -> str:
    """A sign-in finding beside the day's network ones: the legacy administrator signing in
    from a new address without MFA, and failing. Returns its uid."""
    from lakewatch.scoring.signin_findings import SignInPair, signin_finding

    start = int(datetime(2026, 11, 30, 4, tzinfo=UTC).timestamp() * 1000)
    pair = ScoredPair(PRINCIPAL, "185.220.101.9", "signin", -4.0, True, 5, start, start + 60_000)
    finding = signin_finding(
        SignInPair(pair, mfa_used=0, mfa_not_used=5, succeeded=0, failed=5),
        "anomalous_pair",
        threshold=THRESHOLD,
        source=parse_key(SIGNIN_SOURCE),
        bucket="lake",
        now_ms=start,
    )
    key = findings_key(settings.findings_prefix, parse_key(SIGNIN_SOURCE), "ipi-x")
    store.put(key, to_parquet([finding]))
    return finding["finding_info"]["uid"]
