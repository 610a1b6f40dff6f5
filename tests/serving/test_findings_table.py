"""serving.findings_table: the Glue table over the scorer's Parquet, made with awswrangler in
the emulator's Glue: created with projection, updated for a new account, and a disagreeing
table reported and left as it was."""

import uuid

import pyarrow as pa
import pytest

from lakewatch.names import findings_object_key
from lakewatch.serving import findings_table


@pytest.fixture
def settings(emulator_settings):
    tag = uuid.uuid4().hex[:8]
    return emulator_settings.model_copy(
        update={"findings_database": f"lw_{tag}", "results_bucket": f"lakewatch-results-{tag}"}
    )


def _table(clients, settings):
    glue = clients("glue")
    return glue.get_table(DatabaseName=settings.findings_database, Name=settings.findings_table)[
        "Table"
    ]


def test_created_with_projection_over_the_scorers_layout(settings, clients):
    projection = findings_table.Projection(("111122223333",), ("us-east-1",), "20261101")
    result = findings_table.ensure(settings, clients, projection)
    assert result.action == "created" and result.differences == []
    table = _table(clients, settings)
    params = table["Parameters"]
    assert params["projection.enabled"] == "true"
    assert params["projection.accountid.values"] == "111122223333"
    assert params["projection.eventday.range"] == "20261101,NOW"
    cols = {c["Name"]: c["Type"] for c in table["StorageDescriptor"]["Columns"]}
    assert cols["unmapped"] == "map<string,string>" and cols["severity_id"] == "int"
    assert [k["Name"] for k in table["PartitionKeys"]] == ["region", "accountid", "eventday"]
    # the template names exactly the folder the scorer writes a day's findings to
    key = findings_object_key(
        settings.findings_prefix, "us-east-1", "111122223333", "20261130", "k", "m"
    )
    folder = params["storage.location.template"].replace("${region}", "us-east-1")
    folder = folder.replace("${accountid}", "111122223333").replace("${eventday}", "20261130")
    assert f"s3://{settings.results_bucket_name}/{key}".startswith(folder)


def test_an_agreeing_table_is_updated_for_a_new_account(settings, clients):
    first = findings_table.Projection(("111122223333",), ("us-east-1",))
    findings_table.ensure(settings, clients, first)
    more = findings_table.Projection(("111122223333", "444455556666"), ("us-east-1", "eu-west-1"))
    assert findings_table.ensure(settings, clients, more).action == "updated"
    params = _table(clients, settings)["Parameters"]
    assert params["projection.accountid.values"] == "111122223333,444455556666"
    assert params["projection.region.values"] == "us-east-1,eu-west-1"


def test_a_disagreeing_table_is_reported_not_overwritten(settings, clients):
    glue = clients("glue")
    glue.create_database(DatabaseInput={"Name": settings.findings_database})
    columns = [
        {"Name": n, "Type": t} for n, t in findings_table.columns().items() if n != "evidences"
    ]
    columns[0]["Type"] = "string"  # activity_id
    glue.create_table(
        DatabaseName=settings.findings_database,
        TableInput={
            "Name": settings.findings_table,
            "StorageDescriptor": {"Columns": columns, "Location": "s3://elsewhere/"},
            "PartitionKeys": [{"Name": "eventday", "Type": "string"}],
        },
    )
    projection = findings_table.Projection(("111122223333",), ("us-east-1",))
    result = findings_table.ensure(settings, clients, projection)
    assert result.action == "disagrees"
    assert "column activity_id is string, lakewatch writes int" in result.differences
    assert any(d.startswith("missing column evidences") for d in result.differences)
    assert "missing column region string" in result.differences
    table = _table(clients, settings)
    assert table["StorageDescriptor"]["Location"] == "s3://elsewhere/"  # untouched


def test_arrow_types_become_athena_types():
    t = pa.struct([("a", pa.list_(pa.int64())), ("m", pa.map_(pa.string(), pa.float64()))])
    assert findings_table.athena_type(t) == "struct<a:array<bigint>,m:map<string,double>>"
    with pytest.raises(ValueError, match="no Athena type"):
        findings_table.athena_type(pa.timestamp("ms"))
