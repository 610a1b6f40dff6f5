import json

import pytest

from lakewatch.lake.notify import object_created, s3_records, sns_wrapped
from lakewatch.scoring.errors import PoisonMessage
from lakewatch.scoring.events import parse

KEY = "aws/VPC_FLOW/2.0/region=us-east-1/accountId=123456789012/eventDay=20261102/a b+c.parquet"


def test_eventbridge_object_created():
    n = parse(json.dumps(object_created("lake", KEY, 10, "etag", "us-east-1", "1")))
    assert [(o.bucket, o.key, o.shape) for o in n.objects] == [("lake", KEY, "eventbridge")]


def test_s3_records_keys_are_url_decoded():
    n = parse(json.dumps(s3_records("lake", KEY, 10, "etag", "us-east-1")))
    assert n.objects[0].key == KEY and n.objects[0].shape == "s3"


@pytest.mark.parametrize("inner", ["eventbridge", "s3"])
def test_sns_wrapped(inner):
    msg = (
        object_created("lake", KEY, 1, "e", "us-east-1", "1")
        if inner == "eventbridge"
        else s3_records("lake", KEY, 1, "e", "us-east-1")
    )
    n = parse(json.dumps(sns_wrapped(msg, "arn:aws:sns:us-east-1:123456789012:t")))
    assert n.objects[0].key == KEY and n.objects[0].shape == f"sns+{inner}"


def test_ignored_events():
    assert parse('{"Service": "Amazon S3", "Event": "s3:TestEvent"}').ignored == "s3:TestEvent"
    delete = s3_records("lake", KEY, 1, "e", "us-east-1")
    delete["Records"][0]["eventName"] = "ObjectRemoved:Delete"
    assert parse(json.dumps(delete)).objects == []
    other = object_created("lake", KEY, 1, "e", "us-east-1", "1") | {
        "detail-type": "Object Deleted"
    }
    assert "Object Deleted" in parse(json.dumps(other)).ignored


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "not an object"),
        ('{"hello": "world"}', "not a Security Lake notification"),
        ('{"source": "aws.s3", "detail": {"bucket": {}}}', "not a Security Lake notification"),
    ],
)
def test_poison(body, message):
    with pytest.raises(PoisonMessage, match=message):
        parse(body)


def test_real_samples(samples):
    base = samples / "aws-docs__notification-examples"
    for name in (
        "s3-eventbridge-object-created.json",
        "securitylake-subscriber-sample-object-notification.json",
    ):
        n = parse((base / name).read_text())
        assert n.objects and n.objects[0].key == "example-key"
    event = json.loads(
        (
            samples / "aws-samples__amazon-security-lake-sagemaker-workshop/data/"
            "test-securitylake-sqs-message.json"
        ).read_text()
    )
    [obj] = parse(event["Records"][0]["body"]).objects
    assert obj.key.startswith("aws/VPC_FLOW/1.0/") and obj.size == 35095
