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
