"""lakewatch's least-privilege IAM policies, rendered for one deployment.

``include/lambda/ipcheck/iam-policy.json`` (the scorer Lambda's role),
``include/iam/airflow-worker-policy.json`` (what Airflow's ``aws_default`` identity does on the
``aws`` backend) and ``include/iam/sagemaker-execution-policy.json`` (training jobs and
endpoints) are templates whose ``${Name}`` placeholders are filled from settings.
"""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

from lakewatch.lake.layout import glue_database
from lakewatch.names import (
    RCF_ENDPOINT,
    lambda_function_name,
    lambda_layer_name,
    rcf_threshold_parameter,
)
from lakewatch.serving.lambda_config import APP_DIR
from lakewatch.settings import Settings

INCLUDE = APP_DIR.parents[1]
POLICIES = {
    "scorer-lambda": APP_DIR / "iam-policy.json",
    "airflow-worker": INCLUDE / "iam" / "airflow-worker-policy.json",
    "sagemaker-execution": INCLUDE / "iam" / "sagemaker-execution-policy.json",
}


def placeholders(settings: Settings, topic_name: str = "lakewatch-findings") -> dict[str, str]:
    role = f"arn:aws:iam::{settings.account_id}:role"
    return {
        "LakeBucket": settings.lake_bucket_name,
        "ResultsBucket": settings.results_bucket_name,
        "CanaryPrefix": settings.canary_prefix,
        "FindingsPrefix": settings.findings_prefix,
        "ExtractsPrefix": settings.extracts_prefix,
        "ModelsPrefix": settings.models_prefix,
        "ThresholdsPrefix": settings.thresholds_prefix,
        "FeedbackPrefix": settings.feedback_prefix,
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
        "LayerName": lambda_layer_name(settings.endpoint_name),
        "AthenaWorkgroup": settings.athena_workgroup,
        "AlertsTopicArn": settings.alerts_topic,
        "GlueDatabase": glue_database(settings.region),
        "FindingsDatabase": settings.findings_database,
        "SageMakerRoleArn": settings.sagemaker_role_arn or f"{role}/lakewatch-sagemaker",
        "LambdaRoleArn": settings.lambda_role_arn or f"{role}/lakewatch-scorer",
        "StepUpEventBus": settings.step_up_event_bus,
        # the RCF DAGs' endpoint (the scorer's RCF statements go with rcf_endpoint_name alone)
        "RcfEndpointName": settings.rcf_endpoint_name or RCF_ENDPOINT,
        "RcfThresholdParameter": rcf_threshold_parameter(settings.threshold_parameter),
    }


# statements that exist only while their setting is set: none granted for a resource not used
OPTIONAL_STATEMENTS = {
    "PutStepUpEvents": "step_up_event_bus",
    "ReadRcfThreshold": "rcf_endpoint_name",
    "ScoreWithTheRcfEndpoint": "rcf_endpoint_name",
}


def _without_unused(doc: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """``doc`` less the statements whose setting is off (``OPTIONAL_STATEMENTS``)."""
    unused = {sid for sid, name in OPTIONAL_STATEMENTS.items() if not getattr(settings, name)}
    if unused:
        doc["Statement"] = [st for st in doc["Statement"] if st.get("Sid") not in unused]
    return doc


def render(path: Path, settings: Settings) -> dict[str, Any]:
    template = string.Template(Path(path).read_text())
    return _without_unused(json.loads(template.substitute(placeholders(settings))), settings)


def policy_document(settings: Settings, topic_name: str = "lakewatch-findings") -> dict[str, Any]:
    """The scorer Lambda's policy."""
    template = string.Template(POLICIES["scorer-lambda"].read_text())
    doc = json.loads(template.substitute(placeholders(settings, topic_name)))
    return _without_unused(doc, settings)
