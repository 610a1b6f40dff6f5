import pyarrow.parquet as pq
import pytest

from lakewatch.lake.layout import Source
from lakewatch.lake.schemas import schema_for


@pytest.mark.parametrize(
    ("source", "path"),
    [
        (Source.VPC_FLOW, "VPC_FLOW/example0.gz.parquet"),
        (Source.ROUTE53, "ROUTE53/example0.json.gz.parquet"),
    ],
)
def test_v1_schema_is_aws_own(samples, source, path):
    from tests.conftest import SL_SAMPLES

    real = pq.read_schema(SL_SAMPLES / path).remove_metadata()
    assert real.equals(schema_for(source, "1.0")), "1.0 schema drifted from AWS's files"


def test_v2_adds_security_lake_2_columns():
    for source in (Source.VPC_FLOW, Source.ROUTE53):
        names = schema_for(source, "2.0").names
        for col in ("time_dt", "action", "observables", "accountid", "region", "asl_version"):
            assert col in names, (source, col)
        cloud = schema_for(source, "2.0").field("cloud").type
        assert cloud.field("account").type.field("uid")


def test_unknown_version():
    with pytest.raises(ValueError, match=r"3\.0"):
        schema_for(Source.VPC_FLOW, "3.0")


def test_security_hub_is_written_in_2_0_only():
    names = schema_for(Source.SH_FINDINGS, "2.0").names
    for col in ("finding_info", "resources", "evidences", "observables", "accountid"):
        assert col in names
    with pytest.raises(ValueError, match=r"2\.0 only"):
        schema_for(Source.SH_FINDINGS, "1.0")


def test_cloud_trail_1_0_is_aws_own_beside_what_its_other_classes_need(samples):
    """AWS's 3002 files field for field; the table also holds API Activity (``resources``;
    no ``user``) and Account Change (no ``dst_endpoint``), so those two are nullable."""
    from tests.conftest import SL_SAMPLES

    mine = schema_for(Source.CLOUD_TRAIL_MGMT, "1.0")
    for path in sorted((SL_SAMPLES / "CLOUD_TRAIL/authentication").glob("*.parquet")):
        real = pq.read_schema(path).remove_metadata()
        assert [n for n in mine.names if n != "resources"] == real.names
        for f in real:
            if f.name in ("dst_endpoint", "user"):
                assert mine.field(f.name).equals(f.with_nullable(True))
            else:
                assert mine.field(f.name).equals(f), f.name


def test_cloud_trail_2_0_names_the_actor_as_ocsf_1_1_does():
    schema = schema_for(Source.CLOUD_TRAIL_MGMT, "2.0")
    user = schema.field("actor").type.field("user").type
    assert {"uid", "uid_alt", "account", "credential_uid"} <= {f.name for f in user}
    assert "uuid" not in {f.name for f in user}
    for col in ("time_dt", "is_mfa", "observables", "accountid", "region", "asl_version"):
        assert col in schema.names
    assert schema.field("metadata").type.field("event_code")
