"""lake.security_hub: Security Hub findings read back from the lake as evidence: the day's
objects only, instances from resources, addresses from evidences and observables, either
OCSF version's finding object, and a row without a finding uid reported, not read."""

import io
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq

from lakewatch.lake.layout import Source, object_key
from lakewatch.lake.security_hub import evidence_in, read_evidence
from lakewatch.lake.sink import LocalStore
from lakewatch.lake.synthetic.security_hub import ShFinding, sh_table

DAY = date(2026, 11, 3)


def _body(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def test_reads_the_days_findings_only(tmp_path):
    store = LocalStore(tmp_path)
    for day, instance in ((DAY, "i-1"), (date(2026, 11, 4), "i-2")):
        table = sh_table(
            [
                ShFinding(
                    "u" + instance,
                    "Backdoor",
                    "Backdoor:EC2/C&CActivity.B",
                    4,
                    5,
                    instance,
                    "203.0.113.9",
                )
            ],
            "123456789012",
            "us-east-1",
        )
        key = object_key(Source.SH_FINDINGS, "2.0", "us-east-1", "123456789012", day, "a.parquet")
        store.put(key, _body(table))
    store.put(
        "aws/VPC_FLOW/2.0/region=us-east-1/accountId=123456789012/eventDay=20261103/b.parquet", b"x"
    )
    found = read_evidence(store, "2.0", [DAY])
    assert [e.instances for e in found.findings] == [("i-1",)]
    ev = found.findings[0]
    assert ev.addresses == ("203.0.113.9",) and ev.severity_id == 4
    assert ev.uid.endswith("/ui-1") and ev.source_object.endswith("a.parquet")
    assert ev.names(("i-9",), ("203.0.113.9",)) and ev.names(("i-1",), ())
    assert not ev.names(("i-9",), ("203.0.113.8",))


def test_rc2_finding_object_and_bad_rows():
    table = pa.table(
        {
            "finding": [
                {"uid": "f1", "title": "t", "types": ["x"]},
                {"uid": None, "title": "t", "types": []},
            ],
            "severity_id": [3, 3],
            "time": [1, 2],
            "resources": [[{"uid": "i-7"}], []],
        }
    )
    found = evidence_in(_body(table), "s3://lake/obj.parquet")
    assert [(e.uid, e.instances, e.addresses) for e in found.findings] == [("f1", ("i-7",), ())]
    assert found.skipped == ["s3://lake/obj.parquet row 1: no finding_info.uid"]
    assert found.findings[0].time == 1 and found.findings[0].severity_id == 3


def test_on_s3_only_the_days_partitions_are_listed_every_region_and_account(aws, clients):
    from lakewatch.lake.security_hub import day_keys
    from lakewatch.lake.sink import S3Store

    s3 = clients("s3")
    s3.create_bucket(Bucket="sh-lake")
    store = S3Store(s3, "sh-lake", "lake-root")
    wanted = []
    for region in ("us-east-1", "eu-west-1"):
        for account in ("111111111111", "222222222222"):
            for day in (DAY, date(2026, 11, 4)):
                key = object_key(Source.SH_FINDINGS, "2.0", region, account, day, "x.parquet")
                store.put(key, b"x")
                if day == DAY:
                    wanted.append(key)
    store.put(f"aws/SH_FINDINGS/2.0/region=us-east-1/accountId=1/eventDay={DAY:%Y%m%d}/m.json", b"")
    assert day_keys(store, "2.0", DAY) == sorted(wanted)
