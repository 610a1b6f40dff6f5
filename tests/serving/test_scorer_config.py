"""serving.scorer_config: the scorer's configuration comes from lakewatch's settings and the
deployed resources (the DLQ's URL, the queue's redrive limit, the views of the model the
endpoint serves), and survives the trip through Lambda's environment."""

import json

from lakewatch.extract.daily import results_store
from lakewatch.extract.export import PairSet
from lakewatch.model.registry import ModelRecord, Registry
from lakewatch.scoring.process import ScorerConfig
from lakewatch.serving.scorer_config import (
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
