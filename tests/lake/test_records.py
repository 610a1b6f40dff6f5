"""lake.records: the hand-built flow record (the canary's) is valid OCSF for both source
versions and fits the lake's own schema, so the scorer reads it like any lake object."""

import pytest

from lakewatch.lake.layout import OCSF_VERSION, Source
from lakewatch.lake.records import vpc_egress_row, vpc_table
from lakewatch.lake.schemas import schema_for
from lakewatch.lake.validate import validate_table


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_the_canary_row_is_valid_ocsf_in_the_lakes_schema(version):
    row = vpc_egress_row(
        instance_uid="i-0abc",
        src_ip="10.0.1.5",
        dst_ip="198.51.100.7",
        dst_port=443,
        time_ms=1_764_460_800_000,
        account_id="111122223333",
        region="us-east-1",
        version=version,
    )
    table = vpc_table([row], version)
    assert table.schema == schema_for(Source.VPC_FLOW, version)
    assert validate_table(table, OCSF_VERSION[version]) == []
    [record] = table.to_pylist()
    assert record["src_endpoint"]["instance_uid"] == "i-0abc"
    assert record["dst_endpoint"]["ip"] == "198.51.100.7"
    assert record["connection_info"]["direction"] == "Outbound"
    assert ("time_dt" in record) == (version == "2.0")
