"""SageMaker endpoints: create and reuse against moto; update, verify and rollback with a
Stubber at the service boundary (moto has no UpdateEndpoint), every call checked by botocore."""

from datetime import datetime

import pytest
from botocore.stub import Stubber

from lakewatch.aws.clients import Boto3Clients
from lakewatch.serving.deploy import DeployError
from lakewatch.serving.sagemaker import SageMakerEndpoints
from lakewatch.training.sagemaker import model_config

ROLE = "arn:aws:iam::123456789012:role/lakewatch-sagemaker"
ARN = "arn:aws:sagemaker:us-east-1:123456789012"


def _model(model_id):
    return model_config(
        name=model_id,
        algorithm="builtin",
        artifact="s3://b/m/model.tar.gz",
        region="us-east-1",
        role_arn=ROLE,
        instance_type="ml.m5.large",
    )


@pytest.fixture
def sm(aws):
    settings, _ = aws
    return Boto3Clients(settings, endpoint_overrides={"sagemaker": settings.resolved_endpoint_url})(
        "sagemaker"
    )


def test_create_then_reuse_against_the_emulator(sm):
    eps = SageMakerEndpoints(sm, poll_seconds=0)
    name = f"lw-{id(sm) % 100000}"
    first = eps.deploy(name, "ipi-20261105-aaaa", _model("ipi-20261105-aaaa"))
    assert first.changed and first.previous_model_id == ""
    assert eps.serving(name) == f"{name}-20261105-aaaa"
    again = eps.deploy(name, "ipi-20261105-aaaa", _model("ipi-20261105-aaaa"))
    assert not again.changed  # the model, config and endpoint were found, not recreated
    assert sm.describe_model(ModelName="ipi-20261105-aaaa")["ModelName"] == "ipi-20261105-aaaa"


def _endpoint(status, config, reason=None):
    doc = {
        "EndpointName": "ep",
        "EndpointArn": "arn:aws:sagemaker:us-east-1:1:endpoint/ep",
        "EndpointConfigName": config,
        "EndpointStatus": status,
        "CreationTime": datetime(2026, 11, 5),
        "LastModifiedTime": datetime(2026, 11, 5),
    }
    if reason:
        doc["FailureReason"] = reason
    return doc


def _exists(stub, op, **params):
    responses = {
        "describe_model": {
            "ModelName": "m",
            "ModelArn": f"{ARN}:model/m",
            "CreationTime": datetime(2026, 11, 5),
        },
        "describe_endpoint_config": {
            "EndpointConfigName": "c",
            "EndpointConfigArn": f"{ARN}:endpoint-config/c",
            "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": "m"}],
            "CreationTime": datetime(2026, 11, 5),
        },
    }
    stub.add_response(op, responses[op], params)


def _stub_update_to_bbbb(stub):
    """Model and config found, the endpoint in service on aaaa, then updated to bbbb."""
    _exists(stub, "describe_model", ModelName="ipi-20261106-bbbb")
    _exists(stub, "describe_endpoint_config", EndpointConfigName="ep-20261106-bbbb")
    stub.add_response("describe_endpoint", _endpoint("InService", "ep-20261105-aaaa"))
    stub.add_response("describe_endpoint", _endpoint("InService", "ep-20261105-aaaa"))
    stub.add_response(
        "update_endpoint",
        {"EndpointArn": f"{ARN}:endpoint/ep"},
        {"EndpointName": "ep", "EndpointConfigName": "ep-20261106-bbbb"},
    )


def test_update_verifies_and_rolls_back_a_failed_config(sm):
    eps = SageMakerEndpoints(sm, poll_seconds=0)
    stub = Stubber(sm)
    _stub_update_to_bbbb(stub)
    # the update fails: SageMaker leaves the old config in service
    stub.add_response("describe_endpoint", _endpoint("Updating", "ep-20261105-aaaa"))
    stub.add_response(
        "describe_endpoint",
        _endpoint("InService", "ep-20261105-aaaa", "model container failed its ping"),
    )
    # rollback finds the previous config serving and leaves it
    stub.add_response("describe_endpoint", _endpoint("InService", "ep-20261105-aaaa"))
    with (
        stub,
        pytest.raises(
            DeployError,
            match=r"not InService on ep-20261106-bbbb: model "
            r"container failed its ping; rolled back",
        ),
    ):
        eps.deploy("ep", "ipi-20261106-bbbb", _model("ipi-20261106-bbbb"))
    stub.assert_no_pending_responses()


def test_rollback_updates_back(sm):
    eps = SageMakerEndpoints(sm, poll_seconds=0)
    stub = Stubber(sm)
    stub.add_response("describe_endpoint", _endpoint("InService", "ep-new"))
    stub.add_response(
        "update_endpoint",
        {"EndpointArn": f"{ARN}:endpoint/ep"},
        {"EndpointName": "ep", "EndpointConfigName": "ep-old"},
    )
    stub.add_response("describe_endpoint", _endpoint("InService", "ep-old"))
    with stub:
        eps.rollback("ep", "ep-old")
    stub.assert_no_pending_responses()


def test_the_deploy_starts_without_waiting_and_a_sensor_polls_it_into_service(sm):
    """What the train DAG does on aws: start (update_endpoint, no wait), the sensor's pokes,
    then finish, which finds the new config in service and waits no more."""
    eps = SageMakerEndpoints(sm, poll_seconds=0, sleep=lambda s: pytest.fail("a blocking wait"))
    stub = Stubber(sm)
    _stub_update_to_bbbb(stub)
    stub.add_response("describe_endpoint", _endpoint("Updating", "ep-20261105-aaaa"))
    stub.add_response("describe_endpoint", _endpoint("InService", "ep-20261106-bbbb"))
    stub.add_response("describe_endpoint", _endpoint("InService", "ep-20261106-bbbb"))
    with stub:
        started = eps.start("ep", "ipi-20261106-bbbb", _model("ipi-20261106-bbbb"))
        assert started["changed"] and started["previous"] == "ep-20261105-aaaa"
        assert eps.settled("ep") == (False, "ep Updating on ep-20261105-aaaa")
        assert eps.settled("ep") == (True, "ep InService on ep-20261106-bbbb")
        result = eps.finish(started)
    assert result.changed and result.detail["endpoint_config"] == "ep-20261106-bbbb"
    stub.assert_no_pending_responses()
