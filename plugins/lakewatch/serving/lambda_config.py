"""The scorer's configuration and environment, derived from lakewatch's settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lakewatch.aws.clients import ClientFactory
from lakewatch.extract.daily import results_store
from lakewatch.extract.export import PairSet
from lakewatch.model.registry import Registry
from lakewatch.scoring.config import ScorerConfig
from lakewatch.settings import Settings

APP_DIR = Path(__file__).resolve().parents[3] / "include" / "lambda" / "ipcheck"


def deployed_pairs(settings: Settings, clients: ClientFactory) -> str:
    """The pair set of the model the endpoint serves (the views the scorer must use)."""
    registry = Registry(results_store(settings, clients), settings.models_prefix)
    current = registry.endpoint(settings.endpoint_name).current
    record = registry.get(current) if current else None
    return (record.extra.get("pairs") if record else "") or PairSet().key


def scorer_config(
    settings: Settings, clients: ClientFactory, pairs: str | None = None
) -> ScorerConfig:
    """The function's configuration: every value lakewatch's settings hold (so the function
    reads where its IAM policy, rendered from the same settings, grants), and the deployed
    resources' (the DLQ's URL, the queue's redrive limit, the served model's views)."""
    sqs = clients("sqs")
    dlq_url = sqs.get_queue_url(QueueName=settings.dlq_name)["QueueUrl"]
    return settings_config(
        settings,
        pairs=pairs or deployed_pairs(settings, clients),
        dlq_url=dlq_url,
        max_receive_count=max_receive_count(sqs, settings.queue_name),
    )


def settings_config(settings: Settings, **deployed: Any) -> ScorerConfig:
    """The scorer's configuration from lakewatch's settings alone (where findings, alerts and
    Security Hub imports go), with ``deployed`` (the deployed resources' values) over them:
    what the hourly RCF step, which writes as the scorer does, runs with."""
    values: dict[str, Any] = {
        "endpoint_name": settings.endpoint_name,
        "threshold_parameter": settings.threshold_parameter,
        "results_bucket": settings.results_bucket_name,
        "lake_bucket": settings.lake_bucket_name,
        "region": settings.region,
        "findings_prefix": settings.findings_prefix,
        "feedback_prefix": settings.feedback_prefix,
        "models_prefix": settings.models_prefix,
        "canary_prefix": settings.canary_prefix,
        "topic_arn": settings.findings_topic_arn,
        "security_hub_findings": settings.security_hub_findings,
        "account_id": settings.account_id,
        "step_up_event_bus": settings.step_up_event_bus,
        "rcf_endpoint_name": settings.rcf_endpoint_name,
    }
    return ScorerConfig(**{**values, **deployed})


def max_receive_count(sqs: Any, queue_name: str) -> int:
    """The subscriber queue's redrive ``maxReceiveCount`` (0 when it has no redrive policy)."""
    url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])
    policy = attrs.get("Attributes", {}).get("RedrivePolicy")
    return int(json.loads(policy)["maxReceiveCount"]) if policy else 0


def local_environment(settings: Settings, config: ScorerConfig) -> dict[str, str]:
    """What the handler sees under the local runtime, as Lambda's environment."""
    return {
        **config.to_env(),
        "LAKEWATCH_AWS_ENDPOINT_URL": settings.resolved_endpoint_url or "",
        # the runtime's own clients (the poller) read lakewatch's settings
        "LAKEWATCH_ENDPOINT_URL": settings.resolved_endpoint_url or "",
        "LAKEWATCH_QUEUE_NAME": settings.queue_name,
        "LAKEWATCH_DLQ_NAME": settings.dlq_name,
        "LAKEWATCH_RUNTIME_ENDPOINT_URL": settings.model_server_url,
        "LAKEWATCH_LOCAL": "1",
        "AWS_DEFAULT_REGION": settings.region,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_METRICS_NAMESPACE": "lakewatch",
    }
