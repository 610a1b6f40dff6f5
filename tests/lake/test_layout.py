from datetime import date

from lakewatch.lake.layout import Source, glue_database, object_key, parse_key, table_name


def test_key_round_trip():
    key = object_key(
        Source.VPC_FLOW,
        "2.0",
        "us-east-1",
        "123456789012",
        date(2026, 11, 2),
        "0" * 32 + ".gz.parquet",
    )
    assert key == (
        "aws/VPC_FLOW/2.0/region=us-east-1/accountId=123456789012/"
        "eventDay=20261102/" + "0" * 32 + ".gz.parquet"
    )
    parsed = parse_key(key)
    assert parsed and parsed.source == "VPC_FLOW" and parsed.day == date(2026, 11, 2)
    assert parsed.key == key


def test_real_notification_key_parses():
    key = (
        "aws/VPC_FLOW/1.0/region=us-east-1/accountId=645411899653/eventDay=20230726/"
        "02c4c95860435b9afa86fb93f7fa776a.gz.parquet"
    )
    assert parse_key(key).account_id == "645411899653"


def test_non_data_keys_are_not_lake_objects():
    assert parse_key("aws/VPC_FLOW/2.0/metadata/00001.metadata.json") is None
    assert parse_key("lakewatch-ground-truth/world.json") is None
    assert parse_key("aws/VPC_FLOW/2.0/region=us-east-1/accountId=1/eventDay=1/x.parquet") is None


def test_catalog_names():
    assert glue_database("eu-west-1") == "amazon_security_lake_glue_db_eu_west_1"
    assert (
        table_name(Source.ROUTE53, "2.0", "us-east-1")
        == "amazon_security_lake_table_us_east_1_route53_2_0"
    )
    assert (
        table_name(Source.VPC_FLOW, "1.0", "us-east-1")
        == "amazon_security_lake_table_us_east_1_vpc_flow_1_0"
    )
    assert (
        table_name(Source.CLOUD_TRAIL_MGMT, "2.0", "us-east-1")
        == "amazon_security_lake_table_us_east_1_cloud_trail_mgmt_2_0"
    )
