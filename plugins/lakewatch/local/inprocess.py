"""A SageMaker runtime and endpoint hosting inside this process, for runs without servers.

The backtest runs the deploy, the recalibration and the scorer exactly as the DAGs do, and
every one of them calls ``invoke_endpoint`` on a ``sagemaker-runtime`` client. Here that client
is ``InProcessRuntime``: the model server's own request handling (``model/protocol.py``) on a
model loaded once, with no port, process or HTTP between (a backtest scores millions of pairs).
``InProcessHosting`` is the ``ModelHosting`` seam that puts a registered model on it.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from lakewatch.aws.clients import ClientFactory
from lakewatch.local.endpoints import LocalEndpoints
from lakewatch.model.artifact import ModelArtifact
from lakewatch.model.encoding import EntityHashCache
from lakewatch.model.inference import Inference
from lakewatch.model.protocol import MAX_PAYLOAD, RequestError, answer
from lakewatch.model.registry import ModelRecord
from lakewatch.serving.deploy import DeployError, DeployResult, ServingStarted
from lakewatch.settings import Settings
from lakewatch.training.pipeline import fetch_artifact


class InProcessRuntime:
    """``invoke_endpoint`` answered by a model loaded in this process, per endpoint name."""

    def __init__(self) -> None:
        self._models: dict[str, tuple[str, Inference]] = {}
        self._hashes = EntityHashCache()

    def serve(self, endpoint: str, model_id: str, model_dir: Path) -> None:
        self._models[endpoint] = (model_id, Inference(ModelArtifact.load(model_dir)))

    def serving(self, endpoint: str) -> str:
        """The model id ``endpoint`` serves ("" when none)."""
        return self._models.get(endpoint, ("", None))[0]

    def invoke_endpoint(
        self, *, EndpointName: str, Body: bytes, ContentType: str, Accept: str = "", **_: Any
    ) -> dict[str, Any]:
        if EndpointName not in self._models:
            raise _client_error("ValidationError", f"Endpoint {EndpointName} not found.")
        if len(Body) > MAX_PAYLOAD:  # as the model server and SageMaker refuse it
            raise _client_error("ValidationError", f"payload exceeds {MAX_PAYLOAD:,} bytes")
        inference = self._models[EndpointName][1]
        try:
            out, ctype = answer(inference, Body, ContentType, Accept, self._hashes)
        except RequestError as err:
            raise _client_error("ValidationError", str(err)) from None
        return {"Body": io.BytesIO(out), "ContentType": ctype}


def _client_error(code: str, message: str) -> ClientError:
    """The error boto3 raises for the same answer from SageMaker."""
    return ClientError({"Error": {"Code": code, "Message": message}}, "InvokeEndpoint")


class InProcessHosting:
    """Serves a registered model on ``runtime``: the artifact installed as the local
    endpoints install it (``LocalEndpoints.install``), then loaded in this process."""

    def __init__(self, runtime: InProcessRuntime, settings: Settings):
        self.runtime, self.settings = runtime, settings
        self.endpoint = settings.endpoint_name

    def start_serving(self, clients: ClientFactory, record: ModelRecord) -> ServingStarted:
        previous = self.runtime.serving(self.endpoint)
        model_dir = LocalEndpoints(self.settings).install(
            record.model_id, fetch_artifact(self.settings, clients, record.artifact_uri)
        )
        self.runtime.serve(self.endpoint, record.model_id, model_dir)
        return ServingStarted(
            endpoint=self.endpoint,
            model_id=record.model_id,
            changed=previous != record.model_id,
            previous=previous,
            detail={"model_dir": str(model_dir), "hosting": "in-process"},
        )

    def serving_settled(self, clients: ClientFactory, started: ServingStarted) -> tuple[bool, str]:
        return True, f"{started.endpoint} serves {started.model_id} in this process"

    def finish_serving(self, clients: ClientFactory, started: ServingStarted) -> DeployResult:
        return DeployResult(
            started.endpoint, started.model_id, started.previous, started.changed, started.detail
        )

    def serve_again(self, clients: ClientFactory, model_id: str) -> None:
        target = LocalEndpoints(self.settings).models_dir / model_id
        if not target.exists():
            raise DeployError(f"model {model_id} was never served here")
        self.runtime.serve(self.endpoint, model_id, target)
