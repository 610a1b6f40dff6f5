"""Create what lakewatch needs in an account: buckets, the subscriber queue and its DLQ.

Idempotent: running it twice changes nothing. Each backend's ``provision`` uses these: on
``aws`` Security Lake owns the lake bucket and the subscriber queue, and lakewatch only
creates its results bucket there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from lakewatch.settings import Settings


@dataclass(frozen=True)
class Resources:
    lake_bucket: str
    results_bucket: str
    queue_url: str
    dlq_url: str


def ensure_bucket(s3, bucket: str, region: str) -> None:
    try:
        s3.head_bucket(Bucket=bucket)
        return
    except ClientError as err:
        if err.response["Error"]["Code"] not in ("404", "NoSuchBucket", "NotFound"):
            raise
    kwargs: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**kwargs)


def ensure_queue_pair(sqs, settings: Settings) -> tuple[str, str]:
    """The subscriber queue with a redrive policy to its dead-letter queue."""
    dlq_url = sqs.create_queue(
        QueueName=settings.dlq_name, Attributes={"MessageRetentionPeriod": "1209600"}
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    attributes = {
        "VisibilityTimeout": str(settings.visibility_timeout_s),
        "RedrivePolicy": json.dumps(
            {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(settings.max_receive_count)}
        ),
    }
    try:
        queue_url = sqs.create_queue(QueueName=settings.queue_name, Attributes=attributes)[
            "QueueUrl"
        ]
    except ClientError as err:
        if err.response["Error"]["Code"] not in ("QueueAlreadyExists", "QueueNameExists"):
            raise
        queue_url = sqs.get_queue_url(QueueName=settings.queue_name)["QueueUrl"]
        sqs.set_queue_attributes(QueueUrl=queue_url, Attributes=attributes)
    return queue_url, dlq_url


ALERTS_INBOX = "lakewatch-alerts-inbox"


def ensure_alerts_inbox(sns, sqs, settings: Settings) -> str:
    """On ``local``: the alerts topic, and a queue subscribed to it standing in for on-call's
    e-mail or pager subscription (``lakewatch alerts`` and the demo read it). Returns its URL."""
    topic = settings.alerts_topic
    sns.create_topic(Name=topic.rsplit(":", 1)[-1])
    url = sqs.create_queue(QueueName=ALERTS_INBOX)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    subscribed = {
        s["Endpoint"] for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    }
    if arn not in subscribed:
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return url


def read_alerts(sqs, wait_s: int = 0) -> list[dict[str, str]]:
    """Alerts waiting in the local inbox (subject, message), removed as they are read."""
    url = sqs.get_queue_url(QueueName=ALERTS_INBOX)["QueueUrl"]
    out: list[dict[str, str]] = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_s)
        messages = got.get("Messages", [])
        if not messages:
            return out
        for m in messages:
            body = json.loads(m["Body"])
            out.append({"subject": body.get("Subject") or "", "message": body.get("Message", "")})
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        wait_s = 0


# the step-up events (``scoring.signin_findings.step_up_entry``): on ``local``, the bus and a
# rule delivering what the scorer puts on it to a queue, standing in for the function a team's
# rule would invoke to require MFA (the demo reads it)
STEP_UP_RULE = "lakewatch-step-up-inbox"
STEP_UP_PATTERN = {"source": ["lakewatch"], "detail-type": ["Unusual sign-in"]}


def step_up_inbox(settings: Settings) -> str:
    """The queue the local step-up rule delivers to: ``<bus>-inbox``."""
    return f"{settings.step_up_event_bus}-inbox"


def ensure_step_up_inbox(events, sqs, settings: Settings) -> str:
    """On ``local``: the step-up bus (``Settings.step_up_event_bus``), a rule matching the
    scorer's events on it, and its target, the inbox queue. Returns the queue's URL ("" when
    the setting names no bus)."""
    bus = settings.step_up_event_bus
    if not bus:
        return ""
    try:
        events.create_event_bus(Name=bus)
    except ClientError as err:
        if err.response["Error"]["Code"] != "ResourceAlreadyExistsException":
            raise
    url = sqs.create_queue(QueueName=step_up_inbox(settings))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(
        Name=STEP_UP_RULE,
        EventBusName=bus,
        EventPattern=json.dumps(STEP_UP_PATTERN),
        State="ENABLED",
        Description="lakewatch's unusual sign-ins, to the local step-up inbox",
    )
    events.put_targets(
        Rule=STEP_UP_RULE, EventBusName=bus, Targets=[{"Id": "step-up-inbox", "Arn": arn}]
    )
    return url


def read_step_up_events(sqs, settings: Settings, wait_s: int = 0) -> list[dict[str, Any]]:
    """The step-up events waiting in the local inbox (EventBridge's envelopes: source,
    detail-type, detail...), removed as they are read."""
    url = sqs.get_queue_url(QueueName=step_up_inbox(settings))["QueueUrl"]
    out: list[dict[str, Any]] = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_s)
        messages = got.get("Messages", [])
        if not messages:
            return out
        for m in messages:
            out.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        wait_s = 0
