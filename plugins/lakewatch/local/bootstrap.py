"""Create what lakewatch needs in an account: buckets, the subscriber queue and its DLQ.

Idempotent: running it twice changes nothing. On the ``aws`` backend Security Lake owns the lake
bucket and the subscriber queue; lakewatch only creates its results bucket there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from botocore.exceptions import ClientError

from lakewatch.aws.clients import ClientFactory
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
    kwargs = {"Bucket": bucket}
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


def bootstrap(settings: Settings, clients: ClientFactory) -> Resources:
    s3 = clients("s3")
    ensure_bucket(s3, settings.results_bucket_name, settings.region)
    if settings.backend == "local":
        ensure_bucket(s3, settings.lake_bucket_name, settings.region)
        queue_url, dlq_url = ensure_queue_pair(clients("sqs"), settings)
    else:
        sqs = clients("sqs")
        queue_url = sqs.get_queue_url(QueueName=settings.queue_name)["QueueUrl"]
        dlq_url = sqs.get_queue_url(QueueName=settings.dlq_name)["QueueUrl"]
    return Resources(settings.lake_bucket_name, settings.results_bucket_name, queue_url, dlq_url)
