"""serving.aws_check: each resource the aws backend expects is checked and a missing or
misconfigured one is named with the reason, never hiding the others (the stack's resources
passing every check is tests/deploy/test_stack.py); Security Hub disabled, with the import on,
is a warning."""

import json
import uuid

from botocore.exceptions import ClientError

from lakewatch.aws.clients import Boto3Clients
from lakewatch.serving.aws_check import check, security_hub


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


def test_security_hub_disabled_is_a_warning_never_a_failure(emulator_settings, clients):
    """Only with the import on; a Region where Security Hub is not enabled warns with what it
    means and how to fix it; an enabled one passes naming the product findings import as."""
    assert "Security Hub" not in _by_name(check(emulator_settings, clients))  # off: not asked
    off = emulator_settings.model_copy(
        update={"security_hub_findings": True, "region": "ap-southeast-2"}
    )
    hub = security_hub(off, Boto3Clients(off))
    assert hub is not None and hub.ok and hub.warning
    assert "Security Hub is not enabled in account 123456789012 in ap-southeast-2" in hub.detail
    assert "FindingsNotImported" in hub.detail and "enable-security-hub" in hub.detail
    on = emulator_settings.model_copy(update={"security_hub_findings": True})
    clients("securityhub").enable_security_hub(EnableDefaultStandards=False)
    verdict = _by_name(check(on, clients))["Security Hub"]
    assert verdict.ok and not verdict.warning
    assert "enabled; findings import as arn:aws:securityhub:us-east-1:" in verdict.detail


def test_security_hub_not_readable_is_a_warning_too(emulator_settings):
    class Forbidden:
        def describe_hub(self):
            raise ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "DescribeHub"
            )

    on = emulator_settings.model_copy(update={"security_hub_findings": True})
    hub = security_hub(on, lambda service: Forbidden())
    assert hub is not None and hub.ok and hub.warning
    assert "cannot tell whether Security Hub is enabled" in hub.detail
