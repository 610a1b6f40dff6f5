"""A fault-injecting HTTP proxy for the service boundary: AWS APIs and model endpoints.

Requests pass through to ``upstream`` unchanged unless a ``Fault`` matches; then the proxy
answers with the fault's error (as the real service would word it) or drops the connection.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

Match = Callable[[str, str, dict[str, str]], bool]  # method, path, headers
_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


@dataclass
class Fault:
    match: Match
    status: int = 503
    body: bytes = b""
    headers: dict[str, str] | None = None
    until: float = float("inf")  # time.monotonic() deadline
    times: int | None = None  # at most this many requests
    hit: int = 0

    def active(self) -> bool:
        return time.monotonic() < self.until and (self.times is None or self.hit < self.times)


def s3_error(code: str, message: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
        f"<Message>{message}</Message><RequestId>chaos</RequestId></Error>"
    ).encode()


def is_s3(method: str, path: str, headers: dict[str, str]) -> bool:
    """S3's REST calls; SQS, SSM and SNS (JSON or query protocol) carry a target or action."""
    return "x-amz-target" not in headers and "Action=" not in path


class FaultProxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str):
        self.upstream = urlparse(upstream)
        self.faults: list[Fault] = []
        self.lock = threading.Lock()
        self.forwarded = 0
        self.injected = 0
        self.on_forward: Callable[[int], None] | None = None
        super().__init__(("127.0.0.1", 0), _Handler)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def inject(self, fault: Fault) -> Fault:
        with self.lock:
            self.faults.append(fault)
        return fault

    def pick(self, method: str, path: str, headers: dict[str, str]) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.active() and fault.match(method, path, headers):
                    fault.hit += 1
                    self.injected += 1
                    return fault
        return None

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: FaultProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt: str, *args) -> None:
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                out += self.rfile.read(size)
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            return out
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _reply(
        self, status: int, body: bytes, headers: dict[str, str], length: str | None = None
    ) -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", length or str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _proxy(self) -> None:
        body = self._body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        fault = self.server.pick(self.command, self.path, headers)
        if fault is not None:
            if fault.status == 0:  # drop the connection
                self.close_connection = True
                return
            self._reply(fault.status, fault.body, fault.headers or {})
            return
        up = self.server.upstream
        conn = http.client.HTTPConnection(up.hostname, up.port, timeout=60)
        try:
            # the signed Host header passes through unchanged
            forward = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
            conn.request(self.command, self.path, body=body or None, headers=forward)
            resp = conn.getresponse()
            payload = resp.read()
            reply = {k: v for k, v in resp.getheaders() if k.lower() not in _HOP}
        finally:
            conn.close()
        with self.server.lock:
            self.server.forwarded += 1
            count = self.server.forwarded
        self._reply(resp.status, payload, reply, resp.getheader("Content-Length"))
        if self.server.on_forward is not None:
            self.server.on_forward(count)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _proxy
