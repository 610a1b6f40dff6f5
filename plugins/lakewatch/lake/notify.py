"""Security Lake's subscriber notifications, as a data-access subscriber's SQS queue gets them.

Security Lake sends the EventBridge "Object Created" event for each new object; subscribers may
also see classic S3 ``Records`` notifications and either wrapped in SNS. ``object_created`` builds
the documented EventBridge shape; ``s3_records`` and ``sns_wrapped`` the other two (for tests and
replays).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus


def object_created(
    bucket: str,
    key: str,
    size: int,
    etag: str,
    region: str,
    account: str,
    when: datetime | None = None,
) -> dict[str, Any]:
    """The EventBridge "Object Created" event Security Lake publishes for a new object."""
    when = when or datetime.now(UTC)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": account,
        "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {"key": key, "size": size, "etag": etag},
            "request-id": uuid.uuid4().hex[:16].upper(),
            "requester": "securitylake.amazonaws.com",
            "reason": "PutObject",
        },
    }


def s3_records(bucket: str, key: str, size: int, etag: str, region: str) -> dict[str, Any]:
    """A classic S3 event notification (keys URL-encoded, as S3 sends them)."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": region,
                "eventTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {"key": quote_plus(key, safe="/"), "size": size, "eTag": etag},
                },
            }
        ]
    }


def sns_wrapped(message: dict[str, Any], topic_arn: str) -> dict[str, Any]:
    """A message as SNS delivers it to an SQS subscription (raw delivery off)."""
    return {
        "Type": "Notification",
        "MessageId": str(uuid.uuid4()),
        "TopicArn": topic_arn,
        "Message": json.dumps(message),
        "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    }


def send(sqs: Any, queue_url: str, messages: list[dict[str, Any]]) -> int:
    """Send notifications in batches of ten; raises if SQS refuses any."""
    sent = 0
    for i in range(0, len(messages), 10):
        batch = [
            {"Id": str(j), "MessageBody": json.dumps(m)} for j, m in enumerate(messages[i : i + 10])
        ]
        resp = sqs.send_message_batch(QueueUrl=queue_url, Entries=batch)
        if resp.get("Failed"):
            raise RuntimeError(f"SQS refused notifications: {resp['Failed']}")
        sent += len(batch)
    return sent
