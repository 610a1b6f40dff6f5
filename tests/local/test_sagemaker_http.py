"""The shared SageMaker-protocol plumbing: boto3's own runtime client, pointed at a handler built
on it, gets SageMaker's answers (a body, or a ClientError carrying the error type and message);
a connection survives an error whose body was never read; invocation paths follow SageMaker's
endpoint-name rule."""

import http.client
import threading

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from lakewatch.local.emulator import free_port
from lakewatch.local.sagemaker_http import ENDPOINT_PATH, LoopbackServer, SageMakerHandler


class _Upper(SageMakerHandler):
    """Answers an invocation of endpoint ``up`` with its body upper-cased."""

    def do_POST(self) -> None:
        name = self.endpoint_in_path()
        if name != "up":
            self.drain()
            self.send_error_json(400, "ValidationError", f"Endpoint {name} not found.")
            return
        self.send(200, self.read_body().upper(), {"Content-Type": "text/plain"})


@pytest.fixture
def server():
    srv = LoopbackServer(("127.0.0.1", free_port()), _Upper)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _runtime(server):
    return boto3.client(
        "sagemaker-runtime",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}),
    )


def test_boto3_reads_a_body_and_an_error_as_it_would_from_sagemaker(server):
    runtime = _runtime(server)
    out = runtime.invoke_endpoint(EndpointName="up", Body=b"abc", ContentType="text/plain")
    assert out["Body"].read() == b"ABC"
    with pytest.raises(ClientError) as err:
        runtime.invoke_endpoint(EndpointName="down", Body=b"abc", ContentType="text/plain")
    assert err.value.response["Error"]["Code"] == "ValidationError"
    assert err.value.response["Error"]["Message"] == "Endpoint down not found."
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_refused_request_leaves_the_connection_usable(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
    conn.request("POST", "/endpoints/down/invocations", body=b"x" * 100_000)
    first = conn.getresponse()
    assert first.status == 400 and first.getheader("x-amzn-ErrorType") == "ValidationError"
    first.read()
    conn.request("POST", "/endpoints/up/invocations", body=b"ok")  # the same socket
    second = conn.getresponse()
    assert (second.status, second.read()) == (200, b"OK")
    conn.close()


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/endpoints/lakewatch-ipinsights/invocations", "lakewatch-ipinsights"),
        ("/endpoints/a--b/invocations", "a--b"),
        ("/endpoints/-a/invocations", None),
        ("/endpoints/a-/invocations", None),
        ("/endpoints/a_b/invocations", None),
        ("/endpoints/a/invocations/x", None),
    ],
)
def test_endpoint_names_follow_sagemakers_rule(path, name):
    match = ENDPOINT_PATH.match(path)
    assert (match[1] if match else None) == name


def test_url_names_the_bound_port(server):
    assert server.url == f"http://127.0.0.1:{server.server_address[1]}"
