"""serving.lambda_deploy: the scorer function, alias and event source mapping deployed against the
emulator; a failed update names its reason; the configured memory covers what ``make bench``
measured the scorer needs."""

import hashlib
import io
import json
import re
import zipfile

import pytest

from lakewatch.aws.clients import Boto3Clients
from lakewatch.backends import AwsBackend
from lakewatch.names import lambda_layer_name
from lakewatch.scoring.process import ScorerConfig
from lakewatch.serving import lambda_deploy as deploy
from lakewatch.serving.lambda_deploy import ALIAS, SCRATCH_MB, deploy_lambda, publish_layer
from lakewatch.serving.lambda_package import build
from tests.conftest import REPO


@pytest.fixture
def emulated(aws):
    settings, resources = aws
    clients = Boto3Clients(
        settings,
        endpoint_overrides={
            "lambda": settings.resolved_endpoint_url,
            "iam": settings.resolved_endpoint_url,
        },
    )
    role = clients("iam").create_role(
        RoleName=f"scorer-{settings.queue_name}",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    queue_arn = clients("sqs").get_queue_attributes(
        QueueUrl=resources.queue_url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    return settings, clients, role, queue_arn


def test_lambda_deploy_against_the_emulator(emulated):
    settings, clients, role, queue_arn = emulated
    lam = clients("lambda")
    config = ScorerConfig(
        endpoint_name="ep", threshold_parameter="/t", results_bucket="b", dlq_url="https://sqs/dlq"
    )
    function = f"scorer-{settings.queue_name}"[:64]

    def deploy():
        return deploy_lambda(
            lam,
            function=function,
            package=build(),
            config=config,
            role_arn=role,
            queue_arn=queue_arn,
            sleep=lambda s: None,
        )

    first = deploy()
    assert first.changed and first.state == "Enabled"
    conf = lam.get_function(FunctionName=function)["Configuration"]
    assert conf["Handler"] == "app.lambda_handler" and conf["Runtime"] == "python3.12"
    assert conf["Environment"]["Variables"]["LAKEWATCH_ENDPOINT_NAME"] == "ep"
    alias = lam.get_alias(FunctionName=function, Name=ALIAS)
    assert alias["FunctionVersion"] == first.version
    [mapping] = lam.list_event_source_mappings(EventSourceArn=queue_arn)["EventSourceMappings"]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # the mapping invokes the alias (moto records the alias resolved to its version)
    assert mapping["FunctionArn"].endswith((f":{ALIAS}", f":{first.version}"))

    again = deploy()  # the same sources and configuration
    assert not again.changed and again.mapping == first.mapping


def _artifacts(clients, bucket: str, prefix: str, layer: bytes, manifest_sha: str | None = None):
    """What `lakewatch scorer package` writes, uploaded: layer.zip and its manifest."""
    sha = manifest_sha or hashlib.sha256(layer).hexdigest()
    manifest = {"runtime": "python3.12", "architecture": "x86_64", "layer": {"sha256": sha}}
    s3 = clients("s3")
    s3.put_object(Bucket=bucket, Key=f"{prefix}layer.zip", Body=layer)
    s3.put_object(Bucket=bucket, Key=f"{prefix}manifest.json", Body=json.dumps(manifest))
    return f"s3://{bucket}/{prefix}"


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, body in files.items():
            zf.writestr(name, body)
    return buf.getvalue()


def test_the_aws_backend_publishes_the_layer_once_and_attaches_it(emulated):
    settings, clients, role, _ = emulated
    layer = _zip({"python/dependency.py": b"VALUE = 1\n"})
    uri = _artifacts(clients, settings.results_bucket_name, "scorer/build-1/", layer)
    settings = settings.model_copy(
        update={
            "backend": "aws",
            "lambda_role_arn": role,
            "scorer_artifacts_uri": uri,
            "endpoint_name": f"ep-{settings.queue_name[-8:]}",
        }
    )
    backend = AwsBackend(settings)
    config = ScorerConfig(
        endpoint_name=settings.endpoint_name,
        threshold_parameter="/t",
        results_bucket=settings.results_bucket_name,
    )
    first = backend.deploy_scorer(clients, build(), config)
    lam = clients("lambda")
    conf = lam.get_function(FunctionName=first.function)["Configuration"]
    [attached] = conf["Layers"]
    layer_name = lambda_layer_name(settings.endpoint_name)
    versions = lam.list_layer_versions(LayerName=layer_name)["LayerVersions"]
    assert [v["LayerVersionArn"] for v in versions] == [attached["Arn"]]
    assert versions[0]["Description"].endswith(hashlib.sha256(layer).hexdigest())
    assert conf["Runtime"] == "python3.12" and conf["Handler"] == "app.lambda_handler"
    assert (conf["MemorySize"], conf["Timeout"]) == (2048, 300)
    assert conf["EphemeralStorage"] == {"Size": SCRATCH_MB}
    assert conf["Environment"]["Variables"] == config.to_env()
    assert lam.get_alias(FunctionName=first.function, Name=ALIAS)["FunctionVersion"] == (
        first.version
    )
    [mapping] = lam.list_event_source_mappings(EventSourceArn=settings.queue_arn())[
        "EventSourceMappings"
    ]
    assert mapping["BatchSize"] == 10 and mapping["State"] == "Enabled"

    again = backend.deploy_scorer(clients, build(), config)  # the same layer: no new version
    assert not again.changed
    assert len(lam.list_layer_versions(LayerName=layer_name)["LayerVersions"]) == 1

    newer = _zip({"python/dependency.py": b"VALUE = 2\n"})
    uri2 = _artifacts(clients, settings.results_bucket_name, "scorer/build-2/", newer)
    moved = AwsBackend(settings.model_copy(update={"scorer_artifacts_uri": uri2}))
    assert moved.deploy_scorer(clients, build(), config).changed
    conf = lam.get_function(FunctionName=first.function)["Configuration"]
    assert conf["Layers"][0]["Arn"] != attached["Arn"]


def test_a_layer_that_is_not_its_manifests_is_refused(emulated):
    settings, clients, _, _ = emulated
    uri = _artifacts(
        clients, settings.results_bucket_name, "scorer/bad/", _zip({"a": b"1"}), "ab" * 32
    )
    lam = clients("lambda")
    with pytest.raises(ValueError, match="is not the layer its manifest describes"):
        publish_layer(lam, clients("s3"), uri, "lakewatch-test-deps")
    assert lam.list_layer_versions(LayerName="lakewatch-test-deps")["LayerVersions"] == []
    with pytest.raises(ValueError, match=r"no manifest\.json under"):
        publish_layer(lam, clients("s3"), f"s3://{settings.results_bucket_name}/nothing/", "x")


def test_a_failed_lambda_update_names_its_reason():
    """boto3's waiters end on a failed function at once, and the reason reaches the task."""
    import boto3
    from botocore.stub import Stubber

    from lakewatch.serving.lambda_deploy import _wait_updated

    lam = boto3.client("lambda", region_name="us-east-1")
    stub = Stubber(lam)
    stub.add_response(
        "get_function",
        {
            "Configuration": {
                "State": "Failed",
                "StateReason": "layer arn:aws:lambda:us-east-1:1:layer:x:1 not found",
            }
        },
        {"FunctionName": "scorer"},
    )
    with stub, pytest.raises(RuntimeError, match=r"Lambda scorer: layer .* not found"):
        _wait_updated(lam, "scorer", timeout=10)


MEASURED = REPO / "bench" / "results" / "scorer.json"


def _template_memory() -> int:
    text = (REPO / "include" / "lambda" / "ipcheck" / "template.yaml").read_text()
    [value] = re.findall(r"^\s+MemorySize:\s*(\d+)\s*$", text, re.M)
    return int(value)


def test_the_function_has_the_memory_a_1m_row_object_needs():
    measured = json.loads(MEASURED.read_text())
    need = measured["memory_mb_for_1m_rows"]  # peak RSS of bench scorer + 25%, 64 MB steps
    assert need >= measured["peak_rss_mb"]["1000000"] * measured["headroom"]
    default = deploy.deploy_lambda.__kwdefaults__["memory_mb"]
    assert _template_memory() >= need, "the SAM template's MemorySize is below the need"
    assert default >= need, "lakewatch_scorer_deploy's memory is below the need"


def test_every_way_of_deploying_gives_the_function_the_scratch_space_its_spill_needs():
    """DuckDB spills a large object's pair counts to /tmp: 444 MB for 20M rows, past
    Lambda's default 512 MB with anything else there."""
    assert SCRATCH_MB >= 1024
    assert deploy.deploy_lambda.__kwdefaults__["scratch_mb"] == SCRATCH_MB
    sam = (REPO / "include" / "lambda" / "ipcheck" / "template.yaml").read_text()
    assert re.findall(r"^\s+EphemeralStorage:\s*\n\s+Size:\s*(\d+)", sam, re.M) == [str(SCRATCH_MB)]
    stack = (REPO / "deploy" / "lakewatch.yaml").read_text()
    assert re.findall(r"^\s+EphemeralStorage:\s*\{Size:\s*(\d+)\}", stack, re.M) == [
        str(SCRATCH_MB)
    ]
