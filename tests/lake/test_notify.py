"""lake.notify: each notification shape lakewatch emits is one the scorer's parser reads back to
the same object (keys with spaces and '=' survive S3's URL encoding), sent in batches of ten."""

import json
import uuid

import pytest

from lakewatch.lake.notify import object_created, s3_records, send, sns_wrapped
from lakewatch.scoring.events import parse

KEY = "aws/VPC_FLOW/2.0/region=us-east-1/accountId=111122223333/eventDay=20261130/a b+c.parquet"


def test_eventbridge_event_is_securitylakes_shape():
    event = object_created("lake", KEY, 10, "etag", "us-east-1", "111122223333")
    assert event["detail-type"] == "Object Created" and event["source"] == "aws.s3"
    assert event["detail"]["requester"] == "securitylake.amazonaws.com"
    [ref] = parse(json.dumps(event)).objects
    assert (ref.bucket, ref.key, ref.size, ref.shape) == ("lake", KEY, 10, "eventbridge")


def test_s3_records_url_encode_the_key_and_sns_wraps_either():
    records = s3_records("lake", KEY, 10, "etag", "us-east-1")
    assert "a+b%2Bc.parquet" in records["Records"][0]["s3"]["object"]["key"]
    [ref] = parse(json.dumps(records)).objects
    assert ref.key == KEY and ref.shape == "s3"
    wrapped = sns_wrapped(records, "arn:aws:sns:us-east-1:111122223333:lake")
    [ref] = parse(json.dumps(wrapped)).objects
    assert ref.key == KEY and ref.shape == "sns+s3"


def test_send_batches_of_ten_and_raises_on_refusal(clients):
    sqs = clients("sqs")
    url = sqs.create_queue(QueueName=f"notify-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    events = [object_created("lake", f"k{i}", 1, "e", "us-east-1", "1") for i in range(23)]
    assert send(sqs, url, events) == 23
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert attrs["Attributes"]["ApproximateNumberOfMessages"] == "23"

    class Refusing:
        def send_message_batch(self, **kwargs):
            return {"Failed": [{"Id": "0", "Code": "InvalidMessageContents"}]}

    with pytest.raises(RuntimeError, match="InvalidMessageContents"):
        send(Refusing(), url, events[:1])
