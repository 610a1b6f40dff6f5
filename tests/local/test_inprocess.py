"""The in-process SageMaker runtime answers as the model server does, and its hosting deploys
through the same steps (and registry) as every backend's."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from lakewatch.aws.endpoint import invoke_pairs
from lakewatch.lake.sink import S3Store
from lakewatch.local.inprocess import InProcessHosting, InProcessRuntime
from lakewatch.local.model_server import ModelServer
from lakewatch.model.registry import ModelRecord
from lakewatch.serving import deploy as serving
from lakewatch.serving.deploy import DeployError
from lakewatch.settings import Settings


@pytest.fixture
def model(tmp_path, clients, emulator_settings, trained_on_views):
    """A lakewatch model artifact on the emulator, registered."""
    from lakewatch.local.bootstrap import ensure_bucket

    bucket = emulator_settings.results_bucket_name
    ensure_bucket(clients("s3"), bucket, emulator_settings.region)
    body = (trained_on_views["model_dir"] / "model.tar.gz").read_bytes()
    S3Store(clients("s3"), bucket).put("models/artifacts/m1/model.tar.gz", body)
    return ModelRecord(
        model_id="m1",
        artifact_uri=f"s3://{bucket}/models/artifacts/m1/model.tar.gz",
        algorithm="lakewatch",
        hyperparameters={},
        data_interval={},
        days=[],
    )


def test_answers_like_the_model_server(
    tmp_path, clients, emulator_settings, model, trained_on_views
):
    runtime = InProcessRuntime()
    hosting = InProcessHosting(runtime, emulator_settings)
    ep = emulator_settings.endpoint_name
    result = serving.deploy(emulator_settings, clients, model, hosting)
    assert (result.model_id, result.previous_model_id, result.changed) == ("m1", "", True)
    server = ModelServer(trained_on_views["model_dir"], port=0)
    entities, ips = ["i-0", "i-1", "nobody"], ["10.0.0.1", "8.8.8.8", "1.1.1.1"]
    body = "".join(f"{e},{ip}\n" for e, ip in zip(entities, ips, strict=True)).encode()
    here = json.loads(
        runtime.invoke_endpoint(
            EndpointName=ep, Body=body, ContentType="text/csv", Accept="application/json"
        )["Body"].read()
    )
    there = server.inference.score(entities, ips)
    assert [p["dot_product"] for p in here["predictions"]] == pytest.approx(
        there.dot_product.tolist()
    )
    assert invoke_pairs(runtime, ep, entities, ips).dot_product.shape == (3,)
    server.server_close()


def test_an_unknown_endpoint_or_a_bad_request_is_a_client_error(tmp_path):
    runtime = InProcessRuntime()
    with pytest.raises(ClientError, match="Endpoint ep not found"):
        runtime.invoke_endpoint(EndpointName="ep", Body=b"a,1.2.3.4", ContentType="text/csv")


def test_serving_again_a_model_never_served_is_refused(tmp_path):
    settings = Settings(state_dir=tmp_path)
    hosting = InProcessHosting(InProcessRuntime(), settings)
    with pytest.raises(DeployError, match="never served"):
        hosting.serve_again(lambda s: None, "m0")
