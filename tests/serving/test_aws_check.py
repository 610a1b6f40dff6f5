"""serving.aws_check: each resource the aws backend expects is checked and a missing or
misconfigured one is named with the reason, never hiding the others (the stack's resources
passing every check is tests/deploy/test_stack.py)."""

import json
import uuid

from lakewatch.serving.aws_check import check


def _by_name(checks):
    return {c.name: c for c in checks}


def test_nothing_there_fails_each_check_in_words(emulator_settings, clients):
    tag = uuid.uuid4().hex[:8]
    settings = emulator_settings.model_copy(
        update={
            "results_bucket": f"none-{tag}",
            "queue_name": f"none-{tag}",
            "dlq_name": f"none-dlq-{tag}",
            "threshold_parameter": f"/none/{tag}",
            "alerts_topic_arn": f"arn:aws:sns:us-east-1:123456789012:none-{tag}",
            "sagemaker_role_arn": "",
            "lambda_role_arn": f"arn:aws:iam::123456789012:role/none-{tag}",
        }
    )
    checks = _by_name(check(settings, clients))
    assert not any(c.ok for c in checks.values())
    assert "LAKEWATCH_SAGEMAKER_ROLE_ARN is not set" in checks["SageMaker role"].detail
    assert "NonExistentQueue" in checks["subscriber queue"].detail or "queue" in (
        checks["subscriber queue"].detail.lower()
    )
    assert "ParameterNotFound" in checks["threshold parameter"].detail


def test_a_queue_without_redrive_and_a_public_bucket_fail(aws, clients):
    settings, resources = aws
    sqs, s3 = clients("sqs"), clients("s3")
    sqs.set_queue_attributes(QueueUrl=resources.queue_url, Attributes={"RedrivePolicy": ""})
    checks = _by_name(check(settings, clients))
    assert "has no redrive policy" in checks["subscriber queue"].detail
    assert not checks["results bucket"].ok
    bucket = settings.results_bucket_name
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": True,
        },
    )
    detail = _by_name(check(settings, clients))["results bucket"].detail
    assert "public access is not fully blocked" in detail
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            k: True
            for k in (
                "BlockPublicAcls",
                "IgnorePublicAcls",
                "BlockPublicPolicy",
                "RestrictPublicBuckets",
            )
        },
    )
    allow = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
            }
        ],
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(allow))
    detail = _by_name(check(settings, clients))["results bucket"].detail
    assert "does not deny aws:SecureTransport false" in detail
