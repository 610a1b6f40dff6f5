"""The scorer Lambda's least-privilege policy: ``include/lambda/ipcheck/iam-policy.json``,
rendered for one deployment (its ``${Name}`` placeholders filled from settings)."""

from __future__ import annotations

import json
import string
from typing import Any

from lakewatch.names import lambda_function_name
from lakewatch.scoring.setup import APP_DIR
from lakewatch.settings import Settings


def policy_document(settings: Settings, topic_name: str = "lakewatch-findings") -> dict[str, Any]:
    template = string.Template((APP_DIR / "iam-policy.json").read_text())
    values = {
        "LakeBucket": settings.lake_bucket_name,
        "ResultsBucket": settings.results_bucket_name,
        "CanaryPrefix": settings.canary_prefix,
        "FindingsPrefix": settings.findings_prefix,
        "Region": settings.region,
        "AccountId": settings.account_id,
        "ThresholdParameter": settings.threshold_parameter,
        "EndpointName": settings.endpoint_name,
        "QueueName": settings.queue_name,
        "DlqName": settings.dlq_name,
        "TopicName": (
            settings.findings_topic_arn.rsplit(":", 1)[-1]
            if settings.findings_topic_arn
            else topic_name
        ),
        "FunctionName": lambda_function_name(settings.endpoint_name),
    }
    return json.loads(template.substitute(values))
