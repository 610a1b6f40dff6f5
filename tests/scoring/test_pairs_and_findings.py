import io
from datetime import date

import pyarrow.parquet as pq
import pytest

from lakewatch.extract.export import PairSet
from lakewatch.lake.layout import Source, parse_key
from lakewatch.lake.synthetic import GenerateOptions, LakeGenerator
from lakewatch.lake.validate import validate_record
from lakewatch.lake.write import parquet_bytes
from lakewatch.scoring.errors import PoisonMessage
from lakewatch.scoring.findings import (
    SCHEMA,
    ScoredPair,
    finding_uid,
    findings_for,
    severity_for,
    to_parquet,
)
from lakewatch.scoring.pairs import object_pairs


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_object_pairs_match_the_labels(version):
    gen = LakeGenerator(
        GenerateOptions(
            days=1, start=date(2026, 11, 1), rows_per_day=6000, seed=2, source_version=version
        )
    )
    for obj in gen.objects():
        if obj.source is not Source.VPC_FLOW or not obj.labels:
            continue
        out = object_pairs(parquet_bytes(obj.table), parse_key(obj.key), PairSet(), "us-east-1")
        assert out.rows == obj.table.num_rows
        got = set(zip(out.pairs["entity"].to_pylist(), out.pairs["ip"].to_pylist(), strict=True))
        for label in obj.labels:
            entity = label.entity + ("/in" if label.view == "ingress_peer" else "")
            assert (entity, label.ip) in got
        statuses = set(out.pairs["status"].to_pylist())
        assert "ok" in statuses
        return
    pytest.fail("no VPC object with labels")


def test_a_flow_object_names_each_instances_own_addresses(monkeypatch):
    """Each instance's own address, from the flow ends its ENI logged, across batches."""
    from lakewatch.scoring import pairs as pairs_module

    gen = LakeGenerator(GenerateOptions(days=1, start=date(2026, 11, 1), rows_per_day=6000, seed=3))
    obj = next(o for o in gen.objects() if o.source is Source.VPC_FLOW)
    monkeypatch.setattr(pairs_module, "BATCH_ROWS", 97)
    out = object_pairs(parquet_bytes(obj.table), parse_key(obj.key), PairSet(), "us-east-1")
    ip_of = {i.uid: i.ip for i in gen.world.instances}
    mine = out.own_addresses
    assert len(mine) >= 10
    for instance, ips in mine.items():
        if instance in ip_of:  # instances (NAT and Lambda ENIs name no instance: '-')
            assert ip_of[instance] in ips
        assert "-" not in ips


def test_endpoints_of_the_wrong_type_are_poison_and_name_no_instance():
    """Found by the handler's fuzzing: a string where the endpoint struct should be."""
    import pyarrow as pa

    from lakewatch.scoring.pairs import own_addresses

    gen = LakeGenerator(GenerateOptions(days=1, start=date(2026, 11, 1), rows_per_day=6000, seed=3))
    obj = next(o for o in gen.objects() if o.source is Source.VPC_FLOW)
    i = obj.table.schema.get_field_index("src_endpoint")
    broken = obj.table.set_column(i, "src_endpoint", pa.array(["x"] * obj.table.num_rows))
    assert own_addresses(broken.select(["src_endpoint"])) == set()
    with pytest.raises(PoisonMessage, match=obj.key):
        object_pairs(parquet_bytes(broken), parse_key(obj.key), PairSet(), "us-east-1")


def test_an_object_read_in_small_batches_gives_the_same_pairs_and_counts(monkeypatch):
    from lakewatch.scoring import pairs as pairs_module

    gen = LakeGenerator(GenerateOptions(days=1, start=date(2026, 11, 1), rows_per_day=6000, seed=3))
    obj = next(o for o in gen.objects() if o.source is Source.VPC_FLOW)
    body, key = parquet_bytes(obj.table), parse_key(obj.key)
    whole = object_pairs(body, key, PairSet(), "us-east-1").pairs
    monkeypatch.setattr(pairs_module, "BATCH_ROWS", 97)  # many batches, pairs split across them
    batched = object_pairs(body, key, PairSet(), "us-east-1").pairs

    def rows(t):
        return sorted(tuple(r.values()) for r in t.to_pylist())

    assert whole.num_rows > 100 and rows(batched) == rows(whole)
    assert sum(whole["event_time_count"].to_pylist()) >= obj.table.num_rows // 2


def test_real_sample_object(samples):
    from tests.conftest import SL_SAMPLES

    body = (SL_SAMPLES / "VPC_FLOW/example1.gz.parquet").read_bytes()
    key = parse_key(
        "aws/VPC_FLOW/1.0/region=us-east-2/accountId=123456789012/eventDay=20220412/x.gz.parquet"
    )
    out = object_pairs(body, key, PairSet(("egress_peer",)), "us-east-1")
    assert out.pairs.select(["entity", "ip", "view", "status"]).to_pylist() == [
        {
            "entity": "i-000000000000000000",
            "ip": "172.31.2.52",
            "view": "egress_peer",
            "status": "ok",
        }
    ]


def test_corrupt_and_foreign_objects_are_poison(samples):
    key = parse_key(
        "aws/VPC_FLOW/2.0/region=us-east-1/accountId=123456789012/eventDay=20261101/x.gz.parquet"
    )
    with pytest.raises(PoisonMessage, match="cannot read as Parquet"):
        object_pairs(b"PAR1 this is not parquet", key, PairSet(), "us-east-1")
    from tests.conftest import SAMPLES

    other = (SAMPLES / "ocsf__examples/use-cases/spark/data/pwSpray.parquet").read_bytes()
    with pytest.raises(PoisonMessage, match="schema lacks"):
        object_pairs(other, key, PairSet(), "us-east-1")


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


def test_findings_are_valid_ocsf_detection_findings():
    findings = findings_for(
        [_pair(-2.5), _pair(0.5), _pair(0.3, known=False), _pair(-0.1, view="ingress_peer")],
        threshold=THRESHOLD,
        source=SOURCE,
        bucket="lake",
        now_ms=1,
    )
    kinds = [f["unmapped"]["lakewatch.kind"] for f in findings]
    assert kinds == ["anomalous_pair", "unknown_entity", "anomalous_pair"]
    for f in findings:
        assert validate_record(f, "1.1.0") == [], f
        assert f["count"] == 7 and f["class_uid"] == 2004
    assert findings[0]["severity"] == "High" and findings[1]["severity"] == "Informational"
    assert findings[2]["evidences"][0]["src_endpoint"] == {"ip": "45.1.2.3"}  # inbound peer
    assert findings[2]["resources"][0]["uid"] == "i-0abc"


def test_severity_grows_with_distance():
    assert [severity_for(s, 0.0, 1.0) for s in (-0.1, -1, -2, -5)] == [2, 3, 4, 5]


def test_repeats_in_a_window_share_a_uid():
    a, b = _pair(-1, first=1_793_491_200_000), _pair(-1, first=1_793_491_200_000 + 1_800_000)
    c = _pair(-1, first=1_793_491_200_000 + 3_600_000)
    assert finding_uid(a, "m") == finding_uid(b, "m") != finding_uid(c, "m")


def test_parquet_round_trip():
    findings = findings_for(
        [_pair(-2.5)], threshold=THRESHOLD, source=SOURCE, bucket="lake", now_ms=1
    )
    table = pq.read_table(io.BytesIO(to_parquet(findings)))
    assert table.schema.equals(SCHEMA)
    row = table.to_pylist()[0]
    assert row["finding_info"]["uid"] == findings[0]["finding_info"]["uid"]
    assert dict(row["unmapped"])["lakewatch.model_id"] == "ipi-1"
