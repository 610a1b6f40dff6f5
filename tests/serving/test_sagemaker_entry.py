"""serving.sagemaker_entry: under SageMaker's PyTorch inference container a lakewatch model
answers byte for byte as ``lakewatch serve`` does, errors included."""

import http.client
import threading

import pytest

from lakewatch.local.emulator import free_port
from lakewatch.local.model_server import ModelServer
from lakewatch.model.protocol import RequestError
from lakewatch.serving.sagemaker_entry import model_fn, transform_fn

BODY = b"i-0abc,10.0.0.1\ni-0abc,198.51.100.7\nnever-seen,2001:db8::1\n"


@pytest.fixture(scope="module")
def served(trained):
    server = ModelServer(trained[1], port=free_port())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def _post(server, body, ctype, accept):
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
    conn.request("POST", "/invocations", body, {"Content-Type": ctype, "Accept": accept})
    resp = conn.getresponse()
    return resp.read(), resp.getheader("Content-Type")


@pytest.mark.parametrize(
    "accept", ["application/json", "application/jsonlines", "application/json; verbose=True"]
)
def test_the_container_hooks_answer_like_the_model_server(trained, served, accept):
    model = model_fn(str(trained[1]))
    assert transform_fn(model, BODY, "text/csv", accept) == _post(served, BODY, "text/csv", accept)


def test_a_bad_row_is_the_same_clear_error(trained):
    model = model_fn(str(trained[1]))
    with pytest.raises(RequestError, match="line 2: 'nope' is not an IP address"):
        transform_fn(model, b"i-1,10.0.0.1\ni-1,nope\n", "text/csv", "application/json")
