"""demo.api: the demo's Airflow REST calls against a stand-in for Airflow's API server: a token
first (renewed once when it expires), 503s retried, other errors named with their status and
detail, runs waited for until they finish."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from lakewatch.demo.api import AirflowAPI
from lakewatch.local.emulator import free_port


class _Airflow(BaseHTTPRequestHandler):
    """Airflow 3's /auth/token and a few /api/v2 routes, with faults to order."""

    tokens = 0
    faults: ClassVar[list[int]] = []
    polls = 0
    seen: ClassVar[list[tuple[str, str, dict | None]]] = []

    def log_message(self, *args):
        pass

    def _send(self, status, body):
        out = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def _route(self, method):
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        cls = type(self)
        if self.path == "/auth/token":
            cls.tokens += 1
            return self._send(201, {"access_token": f"t{cls.tokens}"})
        if self.headers.get("Authorization") != f"Bearer t{cls.tokens}":
            return self._send(401, {"detail": "expired"})
        if cls.faults:
            return self._send(cls.faults.pop(0), {"detail": "busy"})
        cls.seen.append((method, self.path, body))
        if self.path == "/api/v2/dags/d/dagRuns/r1":
            cls.polls += 1
            return self._send(200, {"state": "success" if cls.polls > 1 else "running"})
        if self.path.startswith("/api/v2/dags/missing"):
            return self._send(404, {"detail": "DAG missing not found"})
        return self._send(200, {"dag_id": "d"})

    def do_GET(self):
        self._route("GET")

    def do_POST(self):
        self._route("POST")

    def do_PATCH(self):
        self._route("PATCH")


@pytest.fixture
def api():
    _Airflow.tokens, _Airflow.faults, _Airflow.polls, _Airflow.seen = 0, [], 0, []
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Airflow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield AirflowAPI(f"http://127.0.0.1:{server.server_address[1]}/", "admin", "secret")
    server.shutdown()
    server.server_close()


def test_calls_carry_the_token_and_unpause_patches_the_dag(api):
    api.unpause("d")
    assert _Airflow.seen == [("PATCH", "/api/v2/dags/d", {"is_paused": False})]
    assert _Airflow.tokens == 1


def test_an_expired_token_is_renewed_once_and_503s_are_retried(api):
    api.call("GET", "/dags/d")
    _Airflow.tokens += 1  # the server forgot the token: the next call gets a 401
    _Airflow.faults = [503]
    assert api.call("GET", "/dags/d") == {"dag_id": "d"}
    assert _Airflow.tokens == 3  # one renewal


def test_other_errors_name_status_and_detail(api):
    with pytest.raises(RuntimeError, match=r"GET /dags/missing: 404 .*DAG missing not found"):
        api.call("GET", "/dags/missing")


def test_a_run_is_waited_for_until_it_finishes(api):
    run = api.wait_for_run("d", "r1", timeout=30)
    assert run == {"state": "success"} and _Airflow.polls == 2
