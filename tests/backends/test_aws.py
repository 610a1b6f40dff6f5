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
from lakewatch.serving.lambda_package import build


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
    assert backend.training_algorithm("rcf") == "rcf"  # SageMaker's built-in RCF
    assert backend.runtime_url() is None
    config = ScorerConfig(
        endpoint_name="ep", threshold_parameter="/lakewatch/threshold", results_bucket="results"
    )
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


def test_findings_are_read_through_athena_in_the_findings_database(aws, clients):
    """The export's SQL goes to Athena against the findings table's database; its typed
    results become review rows (moto does not run SQL: the results are seeded)."""
    from datetime import date

    from lakewatch.aws.clients import Boto3Clients
    from lakewatch.review import export
    from tests.extract.test_athena import _rows, _seed_athena

    local, _ = aws
    settings = local.model_copy(update={"backend": "aws", "findings_database": "security"})
    names = [
        "uid",
        "severity_id",
        "severity",
        "kind",
        "title",
        "instances",
        "addresses",
        "view",
        "score",
        "threshold",
        "model_id",
        "source_object",
        "start_time",
        "count",
    ]
    types = [
        "varchar",
        "integer",
        "varchar",
        "varchar",
        "varchar",
        "varchar",
        "varchar",
        "varchar",
        "double",
        "double",
        "varchar",
        "varchar",
        "bigint",
        "integer",
    ]
    row = [
        "f1",
        4,
        "High",
        "incident",
        "t",
        "i-1,i-2",
        "203.0.113.9",
        "egress_peer",
        -3.5,
        -1.0,
        "ipi-x",
        "s3://lake/o",
        1796007600000,
        7,
    ]
    _seed_athena(
        settings,
        local.resolved_endpoint_url,
        [
            {
                "rows": _rows(names, row),
                "column_info": [{"Name": n, "Type": t} for n, t in zip(names, types, strict=True)],
            }
        ],
    )
    emulated = Boto3Clients(local, endpoint_overrides={"athena": local.resolved_endpoint_url})
    backend = AwsBackend(settings)
    day = date(2026, 11, 30)
    sql = export.findings_sql(settings.findings_database, settings.findings_table, day)
    table = backend.query_findings(emulated, sql, day)
    [got] = export.rows_of(table, day)
    assert got.instances == ("i-1", "i-2") and got.score == -3.5 and got.count == 7
    assert got.severity_id == 4 and got.start_time == 1796007600000
    athena = emulated("athena")
    [qid] = [
        q
        for q in athena.list_query_executions()["QueryExecutionIds"]
        if "lakewatch_findings"
        in athena.get_query_execution(QueryExecutionId=q)["QueryExecution"]["Query"]
    ]
    context = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
    assert context["QueryExecutionContext"]["Database"] == "security"


def _record(model_id, algorithm):
    from lakewatch.model.registry import ModelRecord

    return ModelRecord(
        model_id=model_id,
        artifact_uri=f"s3://b/models/sagemaker/{model_id}/output/model.tar.gz",
        algorithm=algorithm,
        hyperparameters={},
        data_interval={"start": "2026-10-29", "end": "2026-11-05"},
        days=[],
    )


@pytest.mark.parametrize("rcf_endpoint", ["", "my-rcf"])
def test_an_rcf_model_is_served_by_sagemakers_rcf_on_its_own_endpoint(aws, rcf_endpoint):
    """An RCF record (model id rcf-...) deploys SageMaker's built-in RCF image to the RCF
    endpoint (settings.rcf_endpoint_name, else lakewatch-rcf), never to IP Insights'; an IP
    Insights record still goes to endpoint_name."""
    from lakewatch.aws.clients import Boto3Clients

    settings, _ = aws
    tag = uuid.uuid4().hex[:6]
    settings = settings.model_copy(
        update={
            "backend": "aws",
            "sagemaker_role_arn": "arn:aws:iam::123456789012:role/lakewatch-sagemaker",
            "endpoint_name": f"ipi-{tag}",
            "rcf_endpoint_name": rcf_endpoint and f"{rcf_endpoint}-{tag}",
        }
    )
    clients = Boto3Clients(
        settings.model_copy(update={"backend": "local"}),
        endpoint_overrides={"sagemaker": aws[0].resolved_endpoint_url},
    )
    backend = AwsBackend(settings)
    model = f"rcf-20261105-{tag}"
    started = backend.start_serving(clients, _record(model, "rcf"))
    expected = f"{rcf_endpoint}-{tag}" if rcf_endpoint else "lakewatch-rcf"
    assert started.endpoint == expected and started.model_id == model
    sm = clients("sagemaker")
    image = sm.describe_model(ModelName=model)["PrimaryContainer"]["Image"]
    assert image.endswith("/randomcutforest:1")
    config = sm.describe_endpoint(EndpointName=expected)["EndpointConfigName"]
    assert config == started.config
    ipi = backend.start_serving(clients, _record(f"ipi-20261105-{tag}", "builtin"))
    assert ipi.endpoint == f"ipi-{tag}"
    ipi_image = sm.describe_model(ModelName=f"ipi-20261105-{tag}")["PrimaryContainer"]["Image"]
    assert ipi_image.endswith("/ipinsights:1")
