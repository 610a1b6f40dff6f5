"""SageMaker runtime's HTTP protocol on loopback, shared by the model server and the router.

Both stand in for an AWS service that boto3 talks to with ``endpoint_url``: they must answer
on the runtime API's path (``/endpoints/<name>/invocations``), keep connections alive (boto3
reuses them), and shape errors the way botocore parses them (JSON ``{"message": ...}`` with an
``x-amzn-ErrorType`` header), so a caller gets the same ``ClientError`` locally as on AWS.
"""

from __future__ import annotations

import json
import logging
import re
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# SageMaker's endpoint-name rule: alphanumerics, single hyphens inside.
ENDPOINT_PATH = re.compile(r"^/endpoints/([A-Za-z0-9](-*[A-Za-z0-9])*)/invocations$")


class LoopbackServer(ThreadingHTTPServer):
    """A threaded server whose threads never keep the process alive and whose port is reusable
    at once after a restart (a replaced model server takes its predecessor's port)."""

    daemon_threads = True
    allow_reuse_address = True

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"http://{host}:{port}"


class SageMakerHandler(BaseHTTPRequestHandler):
    """Keep-alive request handling with SageMaker's error shape; subclasses add the routes."""

    protocol_version = "HTTP/1.1"
    wbufsize = -1  # headers and body leave in one write (flushed per request)
    logger = logging.getLogger("lakewatch.local.sagemaker_http")

    def setup(self) -> None:
        super().setup()
        # Without this, Nagle's algorithm and the client's delayed ACK add ~40 ms per request.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args) -> None:  # to logging, not stderr
        self.logger.debug("%s " + format, self.address_string(), *args)

    def endpoint_in_path(self) -> str | None:
        """The endpoint name of a runtime-API invocation path, or None."""
        match = ENDPOINT_PATH.match(self.path.split("?")[0])
        return match[1] if match else None

    def send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def send_error_json(self, status: int, error_type: str, message: str) -> None:
        """An error as botocore reads it: the header names the type, the body the message."""
        body = json.dumps({"message": message, "ErrorCode": error_type}).encode()
        self.send(
            status, body, {"Content-Type": "application/json", "x-amzn-ErrorType": error_type}
        )

    def read_body(self) -> bytes:
        return self.rfile.read(self.content_length())

    def content_length(self) -> int:
        return int(self.headers.get("Content-Length") or 0)

    def drain(self, length: int | None = None) -> None:
        """Read (and discard) the body so the connection stays usable."""
        remaining = self.content_length() if length is None else length
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1 << 20))
            if not chunk:
                break
            remaining -= len(chunk)


def serve_until_interrupted(server: LoopbackServer, banner: str) -> None:
    """Run a server in the foreground (``lakewatch serve``, the router process) until Ctrl-C or
    SIGTERM's KeyboardInterrupt, then release its port."""
    print(banner, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
