"""The local backend's endpoints: router, deploy beside the old server, switch, rollback."""

import io
import json
import tarfile

import pytest
from botocore.exceptions import ClientError

from lakewatch.aws.endpoint import EndpointError, invoke_pairs
from lakewatch.local.emulator import free_port
from lakewatch.local.endpoints import LocalEndpoints
from lakewatch.serving.deploy import DeployError
from lakewatch.settings import Settings
from tests.clients import runtime_client


@pytest.fixture
def endpoints(tmp_path):
    settings = Settings(state_dir=tmp_path / "state", model_server_port=free_port())
    eps = LocalEndpoints(settings)
    yield eps
    eps.processes.stop_all()


def _install(eps, trained, model_id):
    _, model_dir = trained
    return eps.install(model_id, (model_dir / "model.tar.gz").read_bytes())


def test_deploy_switch_and_rollback(endpoints, trained):
    eps = endpoints
    one = _install(eps, trained, "ipi-1")
    two = _install(eps, trained, "ipi-2")
    first = eps.deploy("ep", "ipi-1", one)
    assert first.changed and eps.serving("ep") == "ipi-1"
    runtime = runtime_client(eps.router_url)
    assert invoke_pairs(runtime, "ep", ["a"], ["1.1.1.1"]).dot_product.shape == (1,)
    old_process = eps.state("ep")["active"]["process"]

    second = eps.deploy("ep", "ipi-2", two)
    assert second.changed and second.previous_model_id == "ipi-1"
    assert eps.serving("ep") == "ipi-2"
    assert eps.processes.running(old_process) is None  # the old server was stopped
    assert invoke_pairs(runtime, "ep", ["a"], ["1.1.1.1"]).requests == 1

    again = eps.deploy("ep", "ipi-2", two)
    assert not again.changed  # idempotent

    eps.rollback("ep")
    assert eps.serving("ep") == "ipi-1"  # restarted from its installed artifact
    assert invoke_pairs(runtime, "ep", ["a"], ["1.1.1.1"]).requests == 1


def test_unknown_endpoint_is_a_validation_error(endpoints):
    url = endpoints.ensure_router()
    with pytest.raises(ClientError) as err:
        runtime_client(url).invoke_endpoint(
            EndpointName="nope", Body=b"a,1.1.1.1", ContentType="text/csv"
        )
    assert err.value.response["Error"]["Code"] == "ValidationError"
    assert "Endpoint nope not found" in err.value.response["Error"]["Message"]


def test_dead_model_server_is_retried_then_reported(endpoints, trained):
    eps = endpoints
    eps.deploy("ep", "ipi-1", _install(eps, trained, "ipi-1"))
    eps.processes.stop(eps.state("ep")["active"]["process"])  # the server dies
    delays = []
    with pytest.raises(EndpointError, match=r"ServiceUnavailable: .*unavailable"):
        invoke_pairs(
            runtime_client(eps.router_url),
            "ep",
            ["a"],
            ["1.1.1.1"],
            max_attempts=3,
            sleep=delays.append,
        )
    assert len(delays) == 2 and delays[1] > delays[0] * 0.5


def test_install_refuses_something_that_is_not_a_model(endpoints):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        body = b"#!/bin/sh\n"
        info = tarfile.TarInfo("../evil.sh")
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    with pytest.raises(DeployError, match="not a lakewatch model"):
        endpoints.install("ipi-x", buf.getvalue())


def test_rollback_without_history(endpoints):
    with pytest.raises(DeployError, match="no previous model"):
        endpoints.rollback("ep")


def test_router_lists_endpoints(endpoints, trained):
    eps = endpoints
    eps.deploy("ep", "ipi-1", _install(eps, trained, "ipi-1"))
    import urllib.request

    listing = json.loads(urllib.request.urlopen(f"{eps.router_url}/endpoints").read())
    assert listing["ep"]["model_id"] == "ipi-1"
