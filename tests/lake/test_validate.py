import json

import pyarrow.parquet as pq
import pytest

from lakewatch.lake.validate import validate_record, validate_table


def _sample_files(samples):
    from tests.conftest import SL_SAMPLES

    return sorted(p for p in SL_SAMPLES.glob("*/*.parquet") if "CLOUD_TRAIL" not in str(p))


def test_aws_parquet_samples_pass_with_known_quirks(samples):
    files = _sample_files(samples)
    assert len(files) == 8
    for path in files:
        assert validate_table(pq.read_table(path), "1.0.0-rc.2") == [], path


def test_ocsf_1_1_json_samples_pass(samples):
    base = samples / "ocsf__examples/mappings/markdown/AWS/v1.1.0"
    for name in ("VPC Flowlogs/samples/vpcflowlog.ocsf", "Route53/samples/route53.ocsf"):
        assert validate_record(json.loads((base / name).read_text()), "1.1.0") == []


def test_quirks_are_allowed_only_where_aws_has_them(samples):
    from tests.conftest import SL_SAMPLES

    nodata = pq.read_table(SL_SAMPLES / "VPC_FLOW/example3.gz.parquet").to_pylist()[0]
    assert validate_record(nodata, "1.0.0-rc.2") == []
    nodata["status_code"] = "OK"  # a '-' address is only fine in NODATA/SKIPDATA rows
    errors = validate_record(nodata, "1.0.0-rc.2")
    assert {e.path for e in errors} == {"src_endpoint.ip", "dst_endpoint.ip"}

    dns = pq.read_table(SL_SAMPLES / "ROUTE53/example0.json.gz.parquet").to_pylist()[0]
    dns["query"]["hostname"] = "bad_host!.example."
    assert [e.path for e in validate_record(dns, "1.0.0-rc.2")] == ["query.hostname"]


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda r: r.update(severity_id="x"), "severity_id"),
        (lambda r: r.update(bogus=1), ""),
        (lambda r: r["src_endpoint"].update(port="http"), "src_endpoint.port"),
    ],
)
def test_violations_name_their_path(samples, mutate, path):
    from tests.conftest import SL_SAMPLES

    rec = pq.read_table(SL_SAMPLES / "VPC_FLOW/example1.gz.parquet").to_pylist()[0]
    mutate(rec)
    errors = validate_record(rec, "1.0.0-rc.2", row=4)
    assert errors and all(e.row == 4 for e in errors)
    assert path in {e.path for e in errors}


def test_aws_cloudtrail_samples_pass(samples):
    from tests.conftest import SL_SAMPLES

    files = sorted((SL_SAMPLES / "CLOUD_TRAIL/authentication").glob("*.parquet"))
    assert len(files) == 7
    for path in files:
        assert validate_table(pq.read_table(path), "1.0.0-rc.2") == [], path
    base = samples / "ocsf__examples/mappings/markdown/AWS/v1.1.0/CloudTrail/Authentication"
    record = json.loads((base / "samples/authentication.ocsf").read_text())
    assert validate_record(record, "1.1.0") == []


def test_an_aws_service_caller_may_name_only_its_service(samples):
    """CloudTrail names an AWS service caller by the service alone: its source is a name, not
    an address, and its user only a type. Anything else in those shapes is still refused."""
    from tests.conftest import SL_SAMPLES

    rec = pq.read_table(SL_SAMPLES / "CLOUD_TRAIL/authentication/AssumeRole.test.gz.parquet")
    rec = rec.to_pylist()[0]
    rec["src_endpoint"] = {"uid": None, "ip": None, "domain": "ec2.amazonaws.com"}
    rec["actor"]["user"] = {k: None for k in rec["actor"]["user"]} | {"type": "AWSService"}
    rec["actor"]["invoked_by"] = "ec2.amazonaws.com"
    assert validate_record(rec, "1.0.0-rc.2") == []
    rec["src_endpoint"]["domain"] = "attacker.example.net"
    rec["actor"]["invoked_by"] = "someone"
    assert {e.path for e in validate_record(rec, "1.0.0-rc.2")} == {"src_endpoint", "actor.user"}
