"""The local endpoint router: routes by endpoint name to the active model server, answers like
SageMaker's runtime for unknown endpoints, and replaces a dead server (at most once per
interval) while clients get a retryable 503."""

import http.client
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from lakewatch.local.emulator import free_port
from lakewatch.local.router import Router


class _Echo(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        out = json.dumps(
            {"path": self.path, "body": body.decode(), "accept": self.headers.get("Accept")}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Not-Forwarded", "1")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


def _serve(server):
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def routed(tmp_path):
    backend = _serve(ThreadingHTTPServer(("127.0.0.1", free_port()), _Echo))
    healed: list[str] = []
    router = _serve(
        Router(tmp_path, "127.0.0.1", free_port(), heal=healed.append, heal_interval_s=60)
    )

    def point(name: str, url: str) -> None:
        (tmp_path / f"{name}.json").write_text(json.dumps({"active": {"url": url}}))

    point("ep", f"http://127.0.0.1:{backend.server_address[1]}")
    yield router, point, healed
    router.shutdown()
    backend.shutdown()


def _post(router, path, body=b"1.2.3.4", headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", router.server_address[1], timeout=10)
    conn.request("POST", path, body=body, headers=headers or {})
    resp = conn.getresponse()
    return resp.status, dict(resp.getheaders()), resp.read()


def test_a_request_reaches_the_active_server_with_its_headers(routed):
    router, _, _ = routed
    status, headers, body = _post(
        router, "/endpoints/ep/invocations", b"i-1,10.0.0.1", {"Accept": "application/json"}
    )
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert "X-Not-Forwarded" not in headers
    assert json.loads(body) == {
        "path": "/endpoints/ep/invocations",
        "body": "i-1,10.0.0.1",
        "accept": "application/json",
    }


def test_unknown_endpoints_and_paths_answer_like_sagemaker(routed):
    router, _, _ = routed
    status, headers, body = _post(router, "/endpoints/nope/invocations")
    assert status == 400 and headers["x-amzn-ErrorType"] == "ValidationError"
    assert json.loads(body)["message"] == "Endpoint nope not found."
    assert _post(router, "/endpoints/ep/other")[0] == 404


def test_a_dead_server_is_a_503_and_is_replaced_once_per_interval(routed):
    router, point, healed = routed
    point("ep", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    for _ in range(3):
        status, headers, _ = _post(router, "/endpoints/ep/invocations")
        assert status == 503 and headers["x-amzn-ErrorType"] == "ServiceUnavailable"
    deadline = time.monotonic() + 5
    while not healed and time.monotonic() < deadline:
        time.sleep(0.05)
    assert healed == ["ep"]
