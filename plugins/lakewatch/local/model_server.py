"""A model server speaking SageMaker's inference protocol, on loopback by default.

``GET /ping``; ``POST /invocations`` (the container contract) and
``POST /endpoints/<name>/invocations`` (the runtime API's path, so boto3's ``sagemaker-runtime``
client with ``endpoint_url`` works unchanged). Errors are JSON ``{"message": ...}`` with an
``x-amzn-ErrorType`` header, which boto3 turns into a ``ClientError`` carrying the message.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from lakewatch.local.sagemaker_http import LoopbackServer, SageMakerHandler, serve_until_interrupted
from lakewatch.model.artifact import ModelArtifact, algorithm_of
from lakewatch.model.encoding import EntityHashCache
from lakewatch.model.inference import Inference
from lakewatch.model.protocol import MAX_PAYLOAD, RequestError, answer
from lakewatch.model.rcf import protocol as rcf_protocol
from lakewatch.model.rcf.artifact import RcfArtifact

log = logging.getLogger("lakewatch.local.model_server")
_ERROR_TYPES = {
    400: "ValidationError",
    406: "ValidationError",
    413: "ValidationError",
    415: "ValidationError",
    404: "ResourceNotFound",
    500: "InternalFailure",
}


class ModelServer(LoopbackServer):
    def __init__(
        self,
        model_dir: str | Path,
        host: str = "127.0.0.1",
        port: int = 8080,
        endpoint_name: str | None = None,
    ):
        self.rcf: RcfArtifact | None = None
        self.artifact: ModelArtifact | RcfArtifact
        # an RCF model answers SageMaker RCF's formats; anything else is IP Insights, as before
        if algorithm_of(model_dir, default="ipinsights") == "rcf":
            self.rcf = self.artifact = RcfArtifact.load(model_dir)
        else:
            ipinsights = ModelArtifact.load(model_dir)
            self.artifact = ipinsights
            self.inference = Inference(ipinsights)
        self.entity_hashes = EntityHashCache()  # request work done once per process
        self.model_dir = str(model_dir)
        self.endpoint_name = endpoint_name
        self.requests = 0
        self.lock = threading.Lock()
        super().__init__((host, port), _Handler)


class _Handler(SageMakerHandler):
    server: ModelServer
    logger = log

    def _error(self, status: int, message: str) -> None:
        self.send_error_json(status, _ERROR_TYPES.get(status, "InternalFailure"), message)

    def do_GET(self) -> None:
        if self.path == "/ping":
            self.send(200, b"", {"Content-Type": "text/plain"})
        elif self.path == "/model":
            meta = {k: v for k, v in self.server.artifact.meta.items() if k != "stats"}
            meta["model_dir"] = self.server.model_dir
            self.send(200, json.dumps(meta).encode(), {"Content-Type": "application/json"})
        else:
            self._error(404, f"no such path: {self.path}")

    def do_POST(self) -> None:
        name = self.endpoint_in_path()
        if self.path.split("?")[0] != "/invocations" and name is None:
            self.drain()
            self._error(404, f"no such path: {self.path}")
            return
        if name and self.server.endpoint_name and name != self.server.endpoint_name:
            self.drain()
            self._error(
                404, f"Endpoint {name} not found (this server is {self.server.endpoint_name})"
            )
            return
        length = self.content_length()
        if length > MAX_PAYLOAD:
            self.drain(length)
            self._error(413, f"payload of {length:,} bytes exceeds the {MAX_PAYLOAD:,}-byte limit")
            return
        body = self.rfile.read(length)
        started = time.perf_counter()
        rcf = self.server.rcf
        if rcf is not None:
            self._respond(lambda: self._invoke_rcf(rcf, body), started)
            return
        self._respond(
            lambda: answer(
                self.server.inference,
                body,
                self.headers.get("Content-Type"),
                self.headers.get("Accept"),
                self.server.entity_hashes,
            ),
            started,
        )

    def _respond(self, invoke: Callable[[], tuple[bytes, str]], started: float) -> None:
        """One invocation's answer, either algorithm's: a refused request is its status, any
        other failure a 500 naming it."""
        try:
            out, ctype = invoke()
        except RequestError as err:
            self._error(err.status, str(err))
            return
        except Exception as err:
            log.exception("invocation failed")
            self._error(500, f"internal error: {type(err).__name__}: {err}")
            return
        self._answer(out, ctype, started)

    def _invoke_rcf(self, artifact: RcfArtifact, body: bytes) -> tuple[bytes, str]:
        """SageMaker RCF's request in, ``{"scores": [...]}`` out; a row of the wrong width
        or with a non-finite value is a 400 naming it."""
        accept = self.headers.get("Accept")
        rcf_protocol.render(np.empty(0), accept)  # an unsupported Accept: before the work
        rows = rcf_protocol.parse_request(
            body, self.headers.get("Content-Type"), artifact.hp.feature_dim
        )
        return rcf_protocol.render(artifact.forest.score(rows), accept)

    def _answer(self, out: bytes, ctype: str, started: float) -> None:
        with self.server.lock:
            self.server.requests += 1
        self.send(
            200,
            out,
            {
                "Content-Type": ctype,
                "X-Amzn-Invoked-Production-Variant": "AllTraffic",
                "X-Lakewatch-Model-Seconds": f"{time.perf_counter() - started:.6f}",
            },
        )


def serve(
    model_dir: str, host: str = "127.0.0.1", port: int = 8080, endpoint_name: str | None = None
) -> None:
    server = ModelServer(model_dir, host, port, endpoint_name)
    serve_until_interrupted(
        server, f"serving {model_dir} on {server.url} (SageMaker inference protocol)"
    )
