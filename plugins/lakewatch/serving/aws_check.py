"""``lakewatch aws check``: whether the AWS resources the ``aws`` backend expects exist and are
set up the way lakewatch relies on.

``deploy/lakewatch.yaml`` creates them, but a team may use its own IaC, and a stack can drift:
each check names the resource from the settings (the names lakewatch will really use) and
says what is wrong in words, so a failed first night is found before it happens. Read-only:
nothing is created or repaired here.

Some verdicts are warnings, not failures (``Check.warning``): with
``LAKEWATCH_SECURITY_HUB_FINDINGS`` on, Security Hub being disabled in the account (or not
readable) is one. The scorer still stores every finding in the results bucket and counts each
import Security Hub refuses (``FindingsNotImported``); the check says so before the first night.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lakewatch.aws.clients import ClientFactory
from lakewatch.aws.securityhub import product_arn
from lakewatch.settings import Settings
from lakewatch.threshold.publish import read_published
from lakewatch.threshold.published import NotAThresholdRecord


@dataclass(frozen=True)
class Check:
    """One resource's verdict: what was checked, whether it is fine, and why not."""

    name: str
    ok: bool
    detail: str
    warning: bool = False  # passed, but with something to fix before relying on it


def _error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def _guarded(name: str, probe: Callable[[], str]) -> Check:
    """``probe``'s detail as a passed check; its ``ClientError`` or ``ValueError`` as a failed
    one, so one missing resource never hides the others' verdicts."""
    try:
        return Check(name, True, probe())
    except ClientError as err:
        return Check(name, False, f"{_error_code(err)}: {err.response['Error'].get('Message')}")
    except ValueError as err:
        return Check(name, False, str(err))


def _results_bucket(s3: Any, bucket: str, extracts_prefix: str) -> str:
    """Encrypted, public access blocked, TLS only, extracts expiring."""
    s3.head_bucket(Bucket=bucket)
    s3.get_bucket_encryption(Bucket=bucket)  # ServerSideEncryptionConfigurationNotFoundError
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    if not all(block.values()) or len(block) < 4:
        raise ValueError(f"s3://{bucket}: public access is not fully blocked ({block})")
    if not _denies_plain_http(s3.get_bucket_policy(Bucket=bucket)["Policy"]):
        raise ValueError(f"s3://{bucket}: its policy does not deny aws:SecureTransport false")
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    prefixes = {r.get("Filter", {}).get("Prefix", r.get("Prefix")) for r in rules}
    if extracts_prefix not in prefixes:
        raise ValueError(f"s3://{bucket}: no lifecycle rule expires {extracts_prefix}")
    return f"s3://{bucket}: encrypted, private, TLS only, {len(rules)} lifecycle rules"


def _denies_plain_http(policy: str) -> bool:
    for st in json.loads(policy).get("Statement", []):
        secure = st.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport")
        if st.get("Effect") == "Deny" and str(secure).lower() == "false":
            return True
    return False


def _queue(sqs: Any, name: str) -> dict[str, str]:
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    return dict(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"])


def _subscriber_queue(sqs: Any, name: str) -> str:
    """It must dead-letter: the scorer counts receives against its ``maxReceiveCount``."""
    redrive = _queue(sqs, name).get("RedrivePolicy")
    if not redrive:
        raise ValueError(f"queue {name} has no redrive policy: failures would retry forever")
    policy = json.loads(redrive)
    dlq = policy["deadLetterTargetArn"].rsplit(":", 1)[-1]
    _queue(sqs, dlq)
    return f"queue {name}: dead-letters to {dlq} after {policy['maxReceiveCount']} receives"


def _dlq(sqs: Any, name: str) -> str:
    attrs = _queue(sqs, name)
    return f"DLQ {name}: {attrs.get('ApproximateNumberOfMessages', '?')} message(s)"


def _threshold(ssm: Any, name: str) -> str:
    try:
        published = read_published(ssm, name)
    except NotAThresholdRecord as err:
        raise ValueError(str(err)) from None
    if published is None:
        ssm.get_parameter(Name=name)  # ParameterNotFound when there is none at all
        return f"{name}: created, nothing published yet"
    return f"{name}: version {published.version}, threshold {published.threshold:.4g}"


def _topic(sns: Any, arn: str) -> str:
    sns.get_topic_attributes(TopicArn=arn)
    return f"topic {arn}"


def _role(iam: Any, arn: str, service: str, what: str) -> str:
    """The role exists and ``service`` may assume it."""
    if not arn:
        variable = f"LAKEWATCH_{what.upper()}_ROLE_ARN"
        raise ValueError(f"{variable} is not set (the stack's outputs name the role)")
    role = iam.get_role(RoleName=arn.rsplit("/", 1)[-1])["Role"]
    trust = json.dumps(role.get("AssumeRolePolicyDocument", {}))
    if service not in trust:
        raise ValueError(f"role {arn}: {service} may not assume it")
    return f"role {arn}: assumable by {service}"


_SAGEMAKER, _LAMBDA = "sagemaker.amazonaws.com", "lambda.amazonaws.com"
SECURITY_HUB = "Security Hub"
# DescribeHub's answers for an account (and Region) where Security Hub is not enabled
_NOT_ENABLED = ("InvalidAccessException", "InvalidAccess", "ResourceNotFoundException")


def security_hub(settings: Settings, clients: ClientFactory) -> Check | None:
    """Whether the findings' Security Hub is enabled, when lakewatch imports into it (None when
    it does not). Never a failure: a disabled hub is a warning, since the scorer only counts
    the imports it refuses."""
    if not settings.security_hub_findings:
        return None
    where = f"account {settings.account_id} in {settings.region}"
    consequence = (
        "the scorer still stores every finding in the results bucket, but Security Hub refuses "
        "each import (counted as FindingsNotImported) and archives nothing"
    )
    try:
        hub = clients("securityhub").describe_hub()
    except ClientError as err:
        code = _error_code(err)
        if code in _NOT_ENABLED:
            why = f"Security Hub is not enabled in {where} ({code})"
            fix = "enable it (aws securityhub enable-security-hub)"
        else:
            message = err.response.get("Error", {}).get("Message") or ""
            why = f"cannot tell whether Security Hub is enabled in {where} ({code}: {message})"
            fix = "allow securityhub:DescribeHub to check, and enable Security Hub if it is off"
        detail = (
            f"WARNING: {why}: {consequence}; {fix}, or set LAKEWATCH_SECURITY_HUB_FINDINGS=false"
        )
        return Check(SECURITY_HUB, True, detail, warning=True)
    except BotoCoreError as err:
        detail = f"WARNING: Security Hub in {where} did not answer ({err}): {consequence}"
        return Check(SECURITY_HUB, True, detail, warning=True)
    arn = product_arn(settings.region, settings.account_id)
    return Check(
        SECURITY_HUB, True, f"{hub.get('HubArn', 'hub')}: enabled; findings import as {arn}"
    )


def check(settings: Settings, clients: ClientFactory) -> list[Check]:
    """Every check, in the order a first deploy needs them."""
    s = settings
    s3, sqs, iam = clients("s3"), clients("sqs"), clients("iam")
    checks = [
        ("results bucket", lambda: _results_bucket(s3, s.results_bucket_name, s.extracts_prefix)),
        ("subscriber queue", lambda: _subscriber_queue(sqs, s.queue_name)),
        ("scorer DLQ", lambda: _dlq(sqs, s.dlq_name)),
        ("threshold parameter", lambda: _threshold(clients("ssm"), s.threshold_parameter)),
        ("alerts topic", lambda: _topic(clients("sns"), s.alerts_topic)),
        ("SageMaker role", lambda: _role(iam, s.sagemaker_role_arn, _SAGEMAKER, "sagemaker")),
        ("scorer role", lambda: _role(iam, s.lambda_role_arn, _LAMBDA, "lambda")),
    ]
    if s.findings_topic_arn:
        checks.append(("findings topic", lambda: _topic(clients("sns"), s.findings_topic_arn)))
    out = [_guarded(name, probe) for name, probe in checks]
    hub = security_hub(s, clients)
    return out if hub is None else [*out, hub]
