"""The local backend's SageMaker runtime: one address that routes by endpoint name.

``POST /endpoints/<name>/invocations`` goes to whichever model server the endpoint's record
(``<state_dir>/endpoints/<name>.json``) names as active, so a deploy switches traffic by
rewriting that record, the way SageMaker moves an endpoint to a new endpoint config. An unknown
endpoint gets SageMaker's 400 ValidationError; a dead model server a 503 the client retries,
while the router replaces it (as SageMaker replaces an instance that fails its health check).
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

from lakewatch.local.sagemaker_http import LoopbackServer, SageMakerHandler, serve_until_interrupted

log = logging.getLogger("lakewatch.local.router")
_FORWARD = ("Content-Type", "Accept", "X-Amzn-SageMaker-Custom-Attributes")


def read_state(directory: Path, name: str) -> dict | None:
    try:
        return json.loads((directory / f"{name}.json").read_text())
    except (FileNotFoundError, ValueError):
        return None


class Router(LoopbackServer):
    def __init__(
        self,
        directory: Path,
        host: str = "127.0.0.1",
        port: int = 8080,
        heal: Callable[[str], object] | None = None,
        heal_interval_s: float = 5.0,
    ):
        self.directory = Path(directory)
        self.heal = heal
        self.heal_interval_s = heal_interval_s
        self._healing: dict[str, float] = {}
        self._heal_lock = threading.Lock()
        super().__init__((host, port), _Handler)

    def replace_backend(self, name: str) -> None:
        """Start a replacement for ``name``'s dead model server, in the background, at most
        once every ``heal_interval_s``."""
        if self.heal is None:
            return
        with self._heal_lock:
            if time.monotonic() - self._healing.get(name, -1e9) < self.heal_interval_s:
                return
            self._healing[name] = time.monotonic()

        heal = self.heal

        def run() -> None:
            try:
                heal(name)
            except Exception:
                log.exception("replacing the model server of endpoint %s failed", name)

        threading.Thread(target=run, name=f"heal-{name}", daemon=True).start()

    def backend(self, name: str) -> str | None:
        state = read_state(self.directory, name)
        active = (state or {}).get("active") or {}
        return active.get("url")


class _Handler(SageMakerHandler):
    server: Router
    logger = log

    def do_GET(self) -> None:
        if self.path == "/ping":
            self.send(200, b"", {"Content-Type": "text/plain"})
        elif self.path == "/endpoints":
            names = sorted(p.stem for p in self.server.directory.glob("*.json"))
            body = {n: (read_state(self.server.directory, n) or {}).get("active") for n in names}
            self.send(200, json.dumps(body).encode(), {"Content-Type": "application/json"})
        else:
            self.send_error_json(404, "UnknownOperationException", f"no such path: {self.path}")

    def do_POST(self) -> None:
        body = self.read_body()
        name = self.endpoint_in_path()
        if name is None:
            self.send_error_json(404, "UnknownOperationException", f"no such path: {self.path}")
            return
        url = self.server.backend(name)
        if url is None:
            self.send_error_json(400, "ValidationError", f"Endpoint {name} not found.")
            return
        target = urlparse(url)
        conn = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=60)
        try:
            conn.request(
                "POST",
                f"/endpoints/{name}/invocations",
                body=body,
                headers={h: self.headers[h] for h in _FORWARD if self.headers.get(h)},
            )
            resp = conn.getresponse()
            payload = resp.read()
        except OSError as err:
            self.server.replace_backend(name)
            self.send_error_json(
                503,
                "ServiceUnavailable",
                f"endpoint {name}: model server at {url} unavailable: {err}",
            )
            return
        finally:
            conn.close()
        headers = {
            k: v
            for k, v in resp.getheaders()
            if k.lower()
            in ("content-type", "x-amzn-errortype", "x-amzn-invoked-production-variant")
        }
        self.send(resp.status, payload, headers)


def serve_router(
    directory: str, host: str, port: int, heal: Callable[[str], object] | None = None
) -> None:
    router = Router(Path(directory), host, port, heal)
    serve_until_interrupted(router, f"routing endpoints in {directory} on http://{host}:{port}")
