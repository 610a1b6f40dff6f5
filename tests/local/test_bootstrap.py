"""local.bootstrap: buckets and the queue pair are created once (a second run changes nothing
but attributes drifted since), the subscriber queue dead-letters after maxReceiveCount, and
the local alerts inbox receives what the alerts topic publishes."""

import json
import uuid

from lakewatch.local.bootstrap import (
    ensure_alerts_inbox,
    ensure_bucket,
    ensure_queue_pair,
    read_alerts,
)


def test_buckets_and_queues_are_idempotent_and_redrive_to_the_dlq(emulator_settings, clients):
    tag = uuid.uuid4().hex[:8]
    settings = emulator_settings.model_copy(
        update={"queue_name": f"q-{tag}", "dlq_name": f"dlq-{tag}", "max_receive_count": 2}
    )
    s3, sqs = clients("s3"), clients("sqs")
    ensure_bucket(s3, f"b-{tag}", "us-east-1")
    ensure_bucket(s3, f"b-{tag}", "us-east-1")
    assert f"b-{tag}" in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    queue, dlq = ensure_queue_pair(sqs, settings)
    sqs.set_queue_attributes(QueueUrl=queue, Attributes={"VisibilityTimeout": "999"})  # drift
    assert ensure_queue_pair(sqs, settings) == (queue, dlq)
    attrs = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    assert attrs["VisibilityTimeout"] == str(settings.visibility_timeout_s)  # put back
    assert json.loads(attrs["RedrivePolicy"])["maxReceiveCount"] in (2, "2")
    sqs.set_queue_attributes(QueueUrl=queue, Attributes={"VisibilityTimeout": "0"})
    sqs.send_message(QueueUrl=queue, MessageBody="poison")
    for _ in range(3):  # received twice, then moved on the third receive
        sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1)
    moved = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=1).get("Messages", [])
    assert [m["Body"] for m in moved] == ["poison"]


def test_the_alerts_inbox_receives_what_the_topic_publishes(emulator_settings, clients):
    sns, sqs = clients("sns"), clients("sqs")
    ensure_alerts_inbox(sns, sqs, emulator_settings)
    ensure_alerts_inbox(sns, sqs, emulator_settings)  # subscribed once
    topic = emulator_settings.alerts_topic
    inbox = sqs.get_queue_url(QueueName="lakewatch-alerts-inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]
    subs = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [s["Endpoint"] for s in subs].count(arn["QueueArn"]) == 1
    read_alerts(sqs)  # whatever earlier tests left
    sns.publish(TopicArn=topic, Subject="lakewatch_train failed", Message="run x: boom")
    assert read_alerts(sqs, wait_s=2) == [
        {"subject": "lakewatch_train failed", "message": "run x: boom"}
    ]
    assert read_alerts(sqs) == []  # read means removed
