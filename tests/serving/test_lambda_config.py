"""serving.lambda_config: the scorer's configuration comes from lakewatch's settings and the
deployed resources (the DLQ's URL, the queue's redrive limit, the views of the model the
endpoint serves), and survives the trip through Lambda's environment."""

import json
from fnmatch import fnmatchcase

from lakewatch.extract.daily import results_store
from lakewatch.extract.export import PairSet
from lakewatch.model.detector import DETECTOR_FILE
from lakewatch.model.registry import ModelRecord, Registry
from lakewatch.names import artifact_key
from lakewatch.scoring.process import ScorerConfig
from lakewatch.serving.iam import policy_document
from lakewatch.serving.lambda_config import (
    deployed_pairs,
    local_environment,
    max_receive_count,
    scorer_config,
)


def test_config_reads_the_deployed_queue_and_survives_the_environment(aws, clients):
    settings, _ = aws
    config = scorer_config(settings, clients)
    dlq = clients("sqs").get_queue_url(QueueName=settings.dlq_name)["QueueUrl"]
    assert config.dlq_url == dlq
    assert config.max_receive_count == settings.max_receive_count
    assert config.results_bucket == settings.results_bucket_name
    assert config.pairs == PairSet().key  # no model deployed yet: the default views
    assert ScorerConfig.from_env(config.to_env()) == config
    env = local_environment(settings, config)
    assert env["LAKEWATCH_RUNTIME_ENDPOINT_URL"] == settings.model_server_url
    assert ScorerConfig.from_env(env) == config


def _granted(policy: dict, bucket: str, key: str) -> bool:
    """Whether the policy lets the function read ``s3://bucket/key``."""
    arn = f"arn:aws:s3:::{bucket}/{key}"
    return any(
        fnmatchcase(arn, resource)
        for st in policy["Statement"]
        if "s3:GetObject" in st["Action"]
        for resource in ([st["Resource"]] if isinstance(st["Resource"], str) else st["Resource"])
    )


def test_a_non_default_models_prefix_reaches_the_function_and_its_policy(aws, clients):
    """The function reads detectors where its IAM policy lets it (the prefix the settings
    name, not the default ``models/``), through the deploy's environment and the local
    runtime's."""
    base, _ = aws
    settings = type(base)(**{**base.model_dump(), "models_prefix": "detectors"})
    config = scorer_config(settings, clients)
    assert config.models_prefix == settings.models_prefix == "detectors/"
    for env in (config.to_env(), local_environment(settings, config)):
        assert env["LAKEWATCH_MODELS_PREFIX"] == "detectors/"
        assert ScorerConfig.from_env(env) == config
    read = artifact_key(config.models_prefix, "ipi-1", DETECTOR_FILE)
    policy = policy_document(settings)
    assert _granted(policy, settings.results_bucket_name, read)
    default = artifact_key("models/", "ipi-1", DETECTOR_FILE)
    assert not _granted(policy, settings.results_bucket_name, default)


def test_every_value_the_settings_hold_reaches_the_config(aws, clients):
    base, _ = aws
    changed = {
        "endpoint_name": "ep-other",
        "threshold_parameter": "/other/threshold",
        "region": "eu-west-1",
        "findings_prefix": "found/",
        "feedback_prefix": "labels/",
        "models_prefix": "detectors/",
        "canary_prefix": "probe/",
        "findings_topic_arn": "arn:aws:sns:eu-west-1:123456789012:found",
        "security_hub_findings": True,
        "account_id": "210987654321",
        "rcf_endpoint_name": "lakewatch-rcf",
    }
    settings = type(base)(**{**base.model_dump(), **changed})
    config = scorer_config(settings, clients, pairs=PairSet().key)
    topic = changed.pop("findings_topic_arn")
    assert {name: getattr(config, name) for name in changed} == changed
    assert config.topic_arn == topic
    assert config.results_bucket == settings.results_bucket_name
    env = config.to_env()  # the function's environment turns the import on, off by default
    assert env["LAKEWATCH_SECURITY_HUB_FINDINGS"] == "True"
    assert env["LAKEWATCH_RCF_ENDPOINT_NAME"] == "lakewatch-rcf"
    assert "LAKEWATCH_RCF_ENDPOINT_NAME" not in scorer_config(base, clients).to_env()
    assert ScorerConfig.from_env(env) == config
    assert "LAKEWATCH_SECURITY_HUB_FINDINGS" not in scorer_config(base, clients).to_env()
    assert not ScorerConfig.from_env(
        {**env, "LAKEWATCH_SECURITY_HUB_FINDINGS": "false"}
    ).security_hub_findings


def test_the_scorer_uses_the_views_of_the_model_the_endpoint_serves(aws, clients):
    settings, _ = aws
    registry = Registry(results_store(settings, clients), settings.models_prefix)
    pairs = PairSet(("egress_peer", "dns_answer"), include_ipv6=True).key
    registry.register(
        ModelRecord("ipi-1", "s3://x/m.tar.gz", "lakewatch", {}, {}, [], extra={"pairs": pairs})
    )
    assert deployed_pairs(settings, clients) == PairSet().key
    registry.record_deploy(settings.endpoint_name, "ipi-1")
    assert deployed_pairs(settings, clients) == pairs
    assert scorer_config(settings, clients).pairs == pairs


def test_a_queue_without_redrive_has_no_receive_limit(clients):
    sqs = clients("sqs")
    sqs.create_queue(QueueName="no-redrive-lakewatch")
    assert max_receive_count(sqs, "no-redrive-lakewatch") == 0
    url = sqs.create_queue(QueueName="redrive-lakewatch-dlq")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    policy = json.dumps({"deadLetterTargetArn": arn["QueueArn"], "maxReceiveCount": 7})
    sqs.create_queue(QueueName="redrive-lakewatch", Attributes={"RedrivePolicy": policy})
    assert max_receive_count(sqs, "redrive-lakewatch") == 7
