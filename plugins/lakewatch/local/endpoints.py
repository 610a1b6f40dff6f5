"""The local backend's endpoints: a model server per deployed model behind the router.

Deploy starts the new model server beside the old one, waits until it answers and serves the
expected model, switches the endpoint's record to it, then stops the old one; rollback switches
back (restarting the previous server if it is gone); ``heal`` replaces a server that died (the
router calls it when a forward fails). Every server and the router are processes in
lakewatch's registry, so ``lakewatch local down`` stops them.
"""

from __future__ import annotations

import json
import sys
import tarfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from lakewatch.local.emulator import free_port
from lakewatch.local.processes import ProcessRegistry, wait_until_ready
from lakewatch.local.router import read_state
from lakewatch.serving.deploy import DeployError, DeployResult
from lakewatch.settings import Settings

ROUTER = "router"


def serve_command(
    model_dir: str | Path, port: int, host: str = "127.0.0.1", endpoint_name: str | None = None
) -> list[str]:
    """The ``lakewatch serve`` command line for a model server process."""
    argv = [sys.executable, "-m", "lakewatch", "serve", "--model-dir", str(model_dir)]
    argv += ["--host", host, "--port", str(port)]
    return argv + (["--endpoint-name", endpoint_name] if endpoint_name else [])


def _get_json(url: str, timeout: float = 2.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read() or b"null")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/ping", timeout=1) as resp:
            return resp.status == 200
    except OSError:
        return False


class LocalEndpoints:
    def __init__(self, settings: Settings, start_timeout: float = 60.0):
        self.settings = settings
        self.directory = settings.state_dir.resolve() / "endpoints"
        self.models_dir = settings.state_dir.resolve() / "models"
        self.processes = ProcessRegistry(settings.run_dir)
        self.start_timeout = start_timeout

    @property
    def router_url(self) -> str:
        return self.settings.model_server_url

    # router ---------------------------------------------------------------------------------

    def ensure_router(self) -> str:
        if self.processes.running(ROUTER) and _answers(self.router_url):
            return self.router_url
        self.directory.mkdir(parents=True, exist_ok=True)
        if _answers(self.router_url):
            raise DeployError(
                f"{self.router_url} answers but is not lakewatch's router; set "
                "LAKEWATCH_MODEL_SERVER_PORT to a free port"
            )
        self.processes.stop(ROUTER)
        record = self.processes.start(
            ROUTER, [sys.executable, "-m", "lakewatch", "local", "router"], env=self._env()
        )
        wait_until_ready(
            record, lambda: _answers(self.router_url), self.start_timeout, "the router"
        )
        return self.router_url

    def _env(self) -> dict[str, str]:
        return {
            "LAKEWATCH_STATE_DIR": str(self.settings.state_dir.resolve()),
            "LAKEWATCH_MODEL_SERVER_PORT": str(self.settings.model_server_port),
            "LAKEWATCH_MODEL_SERVER_HOST": self.settings.model_server_host,
        }

    # state ----------------------------------------------------------------------------------

    def state(self, endpoint: str) -> dict[str, Any]:
        return read_state(self.directory, endpoint) or {
            "endpoint": endpoint,
            "active": None,
            "previous": None,
        }

    def _write(self, endpoint: str, state: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.directory / f".{endpoint}.json.tmp"
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.directory / f"{endpoint}.json")

    def serving(self, endpoint: str) -> str | None:
        active = self.state(endpoint).get("active")
        if active and self.processes.running(active["process"]) and _answers(active["url"]):
            return active["model_id"]
        return None

    # model servers --------------------------------------------------------------------------

    def install(self, model_id: str, artifact: bytes) -> Path:
        """Unpack an artifact into the state directory (idempotent)."""
        target = self.models_dir / model_id
        if not (target / "model.tar.gz").exists():
            target.mkdir(parents=True, exist_ok=True)
            tmp = target / ".model.tar.gz.tmp"
            tmp.write_bytes(artifact)
            with tarfile.open(tmp) as tar:  # refuse anything but a model artifact
                names = sorted(tar.getnames())
            if names != ["model.json", "model.safetensors"]:
                tmp.unlink()
                raise DeployError(f"artifact for {model_id} holds {names}, not a lakewatch model")
            tmp.replace(target / "model.tar.gz")
        return target

    def _start_server(self, endpoint: str, model_id: str, model_dir: Path) -> dict[str, Any]:
        name = f"model-{endpoint}-{model_id}"
        if self.processes.running(name):
            self.processes.stop(name)
        port = free_port(self.settings.model_server_host)
        record = self.processes.start(
            name,
            serve_command(model_dir, port, self.settings.model_server_host, endpoint),
        )
        url = f"http://{self.settings.model_server_host}:{port}"
        try:
            wait_until_ready(
                record, lambda: _answers(url), self.start_timeout, f"model server {name}"
            )
            served = _get_json(f"{url}/model")
        except (TimeoutError, RuntimeError, OSError) as err:
            self.processes.stop(name)
            raise DeployError(f"model server for {model_id} did not start: {err}") from None
        if served.get("model_dir") != str(model_dir):
            self.processes.stop(name)
            raise DeployError(f"{url} serves {served.get('model_dir')}, not {model_dir}")
        return {
            "model_id": model_id,
            "url": url,
            "process": name,
            "model_dir": str(model_dir),
            "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }

    # deploy / rollback ----------------------------------------------------------------------

    def deploy(self, endpoint: str, model_id: str, model_dir: Path) -> DeployResult:
        self.ensure_router()
        state = self.state(endpoint)
        active = state.get("active")
        if active and active["model_id"] == model_id and self.serving(endpoint) == model_id:
            return DeployResult(
                endpoint,
                model_id,
                (state.get("previous") or {}).get("model_id", ""),
                False,
                {"url": active["url"]},
            )
        new = self._start_server(endpoint, model_id, model_dir)
        previous = active if active and active["model_id"] != model_id else state.get("previous")
        self._write(endpoint, {"endpoint": endpoint, "active": new, "previous": previous})
        if active and active["process"] != new["process"]:
            self.processes.stop(active["process"])
        return DeployResult(
            endpoint, model_id, (previous or {}).get("model_id", ""), True, {"url": new["url"]}
        )

    def rollback(self, endpoint: str, to_model_id: str | None = None) -> DeployResult:
        """Serve the previous model again (or ``to_model_id``, if installed)."""
        state = self.state(endpoint)
        target = state.get("previous")
        if to_model_id:
            model_dir = self.models_dir / to_model_id
            if not (model_dir / "model.tar.gz").exists():
                raise DeployError(f"model {to_model_id} is not installed locally")
            target = {"model_id": to_model_id, "model_dir": str(model_dir)}
        if not target:
            raise DeployError(f"endpoint {endpoint} has no previous model to roll back to")
        result = self.deploy(endpoint, target["model_id"], Path(target["model_dir"]))
        return result

    def heal(self, endpoint: str) -> bool:
        """Replace the endpoint's model server if it died; True when one was started."""
        state = self.state(endpoint)
        active = state.get("active")
        if not active or self.serving(endpoint):
            return False
        new = self._start_server(endpoint, active["model_id"], Path(active["model_dir"]))
        current = self.state(endpoint).get("active") or {}
        if current.get("process") != active["process"] or current.get("url") != active["url"]:
            self.processes.stop(new["process"])  # a deploy moved the endpoint meanwhile
            return False
        self._write(endpoint, {**state, "active": {**new, "replaced": active["url"]}})
        return True

    def stop(self, endpoint: str) -> None:
        state = self.state(endpoint)
        for which in ("active", "previous"):
            if state.get(which):
                self.processes.stop(state[which]["process"])
        (self.directory / f"{endpoint}.json").unlink(missing_ok=True)
