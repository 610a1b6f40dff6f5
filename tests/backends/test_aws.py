"""backends.aws: lakewatch creates only its results bucket (Security Lake owns the lake and the
subscriber queue), the SQL goes to Athena in the configured workgroup, the algorithm is the one
asked for, the scorer needs its role, and the mapping state is read from Lambda."""

import uuid

import boto3
import pytest
from botocore.stub import Stubber

from lakewatch.backends import AwsBackend
from lakewatch.extract.athena import AthenaRunner
from lakewatch.scoring.process import ScorerConfig
from lakewatch.serving.scorer_package import build


def test_provision_creates_only_the_results_bucket(emulator_settings, clients):
    tag = uuid.uuid4().hex[:8]
    settings = emulator_settings.model_copy(
        update={
            "backend": "aws",
            "results_bucket": f"r-{tag}",
            "queue_name": f"q-{tag}",
            "dlq_name": f"d-{tag}",
            "lake_suffix": f"l{tag}",
        }
    )
    sqs = clients("sqs")
    queue = sqs.create_queue(QueueName=f"q-{tag}")["QueueUrl"]  # Security Lake's subscriber
    dlq = sqs.create_queue(QueueName=f"d-{tag}")["QueueUrl"]
    resources = AwsBackend(settings).provision(clients)
    assert (resources.queue_url, resources.dlq_url) == (queue, dlq)
    buckets = {b["Name"] for b in clients("s3").list_buckets()["Buckets"]}
    assert f"r-{tag}" in buckets and settings.lake_bucket_name not in buckets


def test_compute_seams_and_refusals(emulator_settings):
    settings = emulator_settings.model_copy(
        update={"backend": "aws", "athena_workgroup": "security", "lambda_role_arn": ""}
    )
    backend = AwsBackend(settings)
    athena = boto3.client("athena", region_name="us-east-1")
    engine = backend.sql_engine(lambda service: athena)
    assert isinstance(engine, AthenaRunner) and engine.workgroup == "security"
    assert engine.output == settings.athena_output_location.rstrip("/") + "/"
    assert backend.training_algorithm("builtin") == "builtin"
    assert backend.runtime_url() is None
    config = ScorerConfig("ep", "/lakewatch/threshold", "results")
    assert backend.scorer_environment(lambda s: None, config) == config.to_env()
    with pytest.raises(ValueError, match="needs LAKEWATCH_LAMBDA_ROLE_ARN"):
        backend.deploy_scorer(lambda s: None, build(), config)


def test_the_mapping_state_is_lambdas(emulator_settings):
    settings = emulator_settings.model_copy(update={"backend": "aws"})
    lam = boto3.client("lambda", region_name="us-east-1")
    stub = Stubber(lam)
    function = f"arn:aws:lambda:us-east-1:123456789012:function:{settings.endpoint_name}-scorer"
    stub.add_response(
        "list_event_source_mappings",
        {"EventSourceMappings": [{"FunctionArn": function, "State": "Enabled"}]},
        {"EventSourceArn": settings.queue_arn()},
    )
    stub.add_response(
        "list_event_source_mappings",
        {"EventSourceMappings": []},
        {"EventSourceArn": settings.queue_arn()},
    )
    with stub:
        backend = AwsBackend(settings)
        assert backend.scorer_mapping_state(lambda s: lam) == "Enabled"
        assert backend.scorer_mapping_state(lambda s: lam) == "no event source mapping"
