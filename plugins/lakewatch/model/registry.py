"""The model registry: one JSON record per trained model, and each endpoint's deploy history.

``models/registry/<model_id>.json`` holds where the artifact is, how it was trained (algorithm,
hyperparameters, data interval, training job) and its metrics. ``models/endpoints/<name>.json``
says which model an endpoint serves now and which it served before: what rollbacks use and what
on-call reads.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from lakewatch.lake.sink import ObjectStore
from lakewatch.names import endpoint_state_key, model_record_key, model_registry_prefix


@dataclass
class ModelRecord:
    model_id: str
    artifact_uri: str
    algorithm: str  # lakewatch | builtin
    hyperparameters: dict[str, Any]
    data_interval: dict[str, str]  # start, end (ISO)
    days: list[str]
    metrics: dict[str, Any] = field(default_factory=dict)
    training_job: str = ""
    created: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class EndpointState:
    endpoint: str
    current: str = ""  # model id
    previous: str = ""
    history: list[dict[str, Any]] = field(default_factory=list)


class Registry:
    def __init__(self, store: ObjectStore, prefix: str = "models/"):
        self.store = store
        self.prefix = prefix

    def _get(self, key: str) -> dict[str, Any] | None:
        try:
            return json.loads(self.store.get(key))
        except Exception as err:
            code = getattr(err, "response", {}).get("Error", {}).get("Code", "")
            if isinstance(err, FileNotFoundError) or code in ("NoSuchKey", "404"):
                return None
            raise

    def _put(self, key: str, doc: dict[str, Any]) -> None:
        self.store.put(key, json.dumps(doc, indent=2, sort_keys=True, default=str).encode())

    def register(self, record: ModelRecord) -> str:
        record.created = record.created or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        key = model_record_key(self.prefix, record.model_id)
        self._put(key, record.to_json())
        return self.store.uri(key)

    def get(self, model_id: str) -> ModelRecord | None:
        doc = self._get(model_record_key(self.prefix, model_id))
        return ModelRecord(**doc) if doc else None

    def models(self) -> list[ModelRecord]:
        out = []
        for key in self.store.list(model_registry_prefix(self.prefix)):
            doc = self._get(key)
            if doc:
                out.append(ModelRecord(**doc))
        return sorted(out, key=lambda r: r.created)

    def endpoint(self, name: str) -> EndpointState:
        doc = self._get(endpoint_state_key(self.prefix, name))
        return EndpointState(**doc) if doc else EndpointState(name)

    def record_deploy(
        self, name: str, model_id: str, action: str = "deploy", detail: dict[str, Any] | None = None
    ) -> EndpointState:
        """Point ``name`` at ``model_id`` (a no-op if it already is) and log the change."""
        state = self.endpoint(name)
        if state.current != model_id:
            state.previous, state.current = state.current, model_id
        state.history.append(
            {
                "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "action": action,
                "model_id": model_id,
                **(detail or {}),
            }
        )
        state.history = state.history[-100:]
        self._put(endpoint_state_key(self.prefix, name), asdict(state))
        return state
