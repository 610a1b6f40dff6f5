"""A model server speaking SageMaker's inference protocol, on loopback by default.

``GET /ping``; ``POST /invocations`` (the container contract) and
``POST /endpoints/<name>/invocations`` (the runtime API's path, so boto3's ``sagemaker-runtime``
client with ``endpoint_url`` works unchanged). Errors are JSON ``{"message": ...}`` with an
``x-amzn-ErrorType`` header, which boto3 turns into a ``ClientError`` carrying the message.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from lakewatch.model.artifact import ModelArtifact
from lakewatch.model.protocol import (
    MAX_PAYLOAD,
    RequestError,
    check_scores,
    parse_request,
    render,
    wants_embeddings,
)
from lakewatch.model.scorer import Scorer

log = logging.getLogger("lakewatch.local.model_server")
_ENDPOINT_PATH = re.compile(r"^/endpoints/([A-Za-z0-9](-*[A-Za-z0-9])*)/invocations$")
_ERROR_TYPES = {
    400: "ValidationError",
    406: "ValidationError",
    413: "ValidationError",
    415: "ValidationError",
    404: "ResourceNotFound",
    500: "InternalFailure",
}


class ModelServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        model_dir: str | Path,
        host: str = "127.0.0.1",
        port: int = 8080,
        endpoint_name: str | None = None,
    ):
        self.artifact = ModelArtifact.load(model_dir)
        self.scorer = Scorer(self.artifact)
        self.model_dir = str(model_dir)
        self.endpoint_name = endpoint_name
        self.requests = 0
        self.lock = threading.Lock()
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"http://{host}:{port}"


class _Handler(BaseHTTPRequestHandler):
    server: ModelServer
    protocol_version = "HTTP/1.1"
    wbufsize = -1  # headers and body leave in one write (flushed per request)

    def setup(self) -> None:
        super().setup()
        # Without this, Nagle's algorithm and the client's delayed ACK add ~40 ms per request.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt: str, *args) -> None:  # route to logging, not stderr
        log.debug("%s " + fmt, self.address_string(), *args)

    def _send(
        self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, message: str) -> None:
        body = json.dumps({"message": message, "ErrorCode": _ERROR_TYPES.get(status)}).encode()
        self._send(
            status,
            body,
            "application/json",
            {"x-amzn-ErrorType": _ERROR_TYPES.get(status, "InternalFailure")},
        )

    def do_GET(self) -> None:
        if self.path == "/ping":
            self._send(200, b"", "text/plain")
        elif self.path == "/model":
            meta = {k: v for k, v in self.server.artifact.meta.items() if k != "stats"}
            meta["model_dir"] = self.server.model_dir
            self._send(200, json.dumps(meta).encode(), "application/json")
        else:
            self._error(404, f"no such path: {self.path}")

    def do_POST(self) -> None:
        path = self.path.split("?")[0]
        match = _ENDPOINT_PATH.match(path)
        if path != "/invocations" and not match:
            self._drain()
            self._error(404, f"no such path: {self.path}")
            return
        if match and self.server.endpoint_name and match[1] != self.server.endpoint_name:
            self._drain()
            self._error(
                404, f"Endpoint {match[1]} not found (this server is {self.server.endpoint_name})"
            )
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_PAYLOAD:
            self._drain(length)
            self._error(413, f"payload of {length:,} bytes exceeds the {MAX_PAYLOAD:,}-byte limit")
            return
        body = self.rfile.read(length)
        started = time.perf_counter()
        try:
            entities, addresses, label = parse_request(body, self.headers.get("Content-Type"))
            accept = self.headers.get("Accept")
            scores = self.server.scorer.score(
                entities, addresses, embeddings=wants_embeddings(accept)
            )
            check_scores(scores, addresses, label)
            out, ctype = render(scores, accept)
        except RequestError as err:
            self._error(err.status, str(err))
            return
        except Exception as err:
            log.exception("invocation failed")
            self._error(500, f"internal error: {type(err).__name__}: {err}")
            return
        with self.server.lock:
            self.server.requests += 1
        self._send(
            200,
            out,
            ctype,
            {
                "X-Amzn-Invoked-Production-Variant": "AllTraffic",
                "X-Lakewatch-Model-Seconds": f"{time.perf_counter() - started:.6f}",
            },
        )

    def _drain(self, length: int | None = None) -> None:
        """Read (and discard) the body so the connection stays usable."""
        remaining = length if length is not None else int(self.headers.get("Content-Length") or 0)
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1 << 20))
            if not chunk:
                break
            remaining -= len(chunk)


def serve(
    model_dir: str, host: str = "127.0.0.1", port: int = 8080, endpoint_name: str | None = None
) -> None:
    server = ModelServer(model_dir, host, port, endpoint_name)
    print(f"serving {model_dir} on {server.url} (SageMaker inference protocol)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
