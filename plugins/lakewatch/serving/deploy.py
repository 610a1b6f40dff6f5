"""Deploy, smoke-check and roll back a registered model on the configured backend."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from lakewatch.aws.clients import ClientFactory
from lakewatch.extract.daily import results_store
from lakewatch.model.registry import ModelRecord, Registry
from lakewatch.names import serving_endpoint
from lakewatch.serving.smoke import SmokeResult, smoke_check
from lakewatch.settings import Settings
from lakewatch.threshold.publish import history, restore


class DeployError(RuntimeError):
    """A deploy that did not leave the new model serving; the previous one still serves."""


@dataclass
class DeployResult:
    """What every endpoint deploy reports, whichever backend serves the model."""

    endpoint: str
    model_id: str
    previous_model_id: str
    changed: bool
    detail: dict[str, Any]


class ServingStarted(BaseModel):
    """A deploy begun on the endpoint (``start_serving``): what ``serving_settled`` and
    ``finish_serving`` read back. The DAG's tasks pass it on as an XCom, so it is validated
    where read (``from_json``) rather than trusted as a dict."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    endpoint: str
    model_id: str
    changed: bool  # False: the endpoint already served ``model_id``
    previous: str = ""  # what served before: on aws its endpoint config, on local its model id
    config: str = ""  # aws: the endpoint config being put in service
    detail: dict[str, Any] = Field(default_factory=dict)  # local: the model server's url

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> ServingStarted:
        return cls.model_validate(doc)


def model_registry(settings: Settings, clients: ClientFactory) -> Registry:
    return Registry(results_store(settings, clients), settings.models_prefix)


class ModelHosting(Protocol):
    """What serves a model on the endpoint: the backend's (``lakewatch.backends``). A deploy
    is three steps, so the wait between them can be a sensor that frees its worker."""

    def start_serving(self, clients: ClientFactory, record: ModelRecord) -> ServingStarted: ...

    def serving_settled(
        self, clients: ClientFactory, started: ServingStarted
    ) -> tuple[bool, str]: ...

    def finish_serving(self, clients: ClientFactory, started: ServingStarted) -> DeployResult: ...

    def serve_again(self, clients: ClientFactory, model_id: str) -> None: ...


def start_deploy(
    settings: Settings, clients: ClientFactory, record: ModelRecord, hosting: ModelHosting
) -> ServingStarted:
    """Begin serving ``record`` on the endpoint (a no-op when it already does)."""
    return hosting.start_serving(clients, record)


def finish_deploy(
    settings: Settings, clients: ClientFactory, started: ServingStarted, hosting: ModelHosting
) -> DeployResult:
    """The deploy's outcome, recorded in the registry when it changed what serves."""
    result = hosting.finish_serving(clients, started)
    if result.changed:
        model_registry(settings, clients).record_deploy(
            _endpoint(settings, result.model_id), result.model_id, "deploy", result.detail
        )
    return result


def deploy(
    settings: Settings, clients: ClientFactory, record: ModelRecord, hosting: ModelHosting
) -> DeployResult:
    """All three steps, waiting in between (scripts and tests; the DAG waits in a sensor)."""
    started = start_deploy(settings, clients, record, hosting)
    return finish_deploy(settings, clients, started, hosting)


def rollback(
    settings: Settings, clients: ClientFactory, to_model_id: str, reason: str, hosting: ModelHosting
) -> None:
    """Serve ``to_model_id`` again and record why."""
    registry = model_registry(settings, clients)
    hosting.serve_again(clients, to_model_id)
    registry.record_deploy(
        _endpoint(settings, to_model_id), to_model_id, "rollback", {"reason": reason}
    )


def _endpoint(settings: Settings, model_id: str) -> str:
    """The endpoint whose state records ``model_id``'s deploys: IP Insights' or, for an RCF
    model, the RCF endpoint (``names.serving_endpoint``, as the backends serve it)."""
    return serving_endpoint(model_id, settings.endpoint_name, settings.rcf_endpoint_name)


def roll_back_refused(
    settings: Settings,
    clients: ClientFactory,
    deployed: DeployResult,
    reason: str,
    hosting: ModelHosting,
) -> str:
    """After the new model failed its smoke check: serve the previous one again when this
    deploy replaced it (the other rollback, on-call's, is ``rollback_model``); says what
    happened, for the failed task."""
    previous = deployed.previous_model_id
    if previous and deployed.changed:
        rollback(settings, clients, previous, reason, hosting)
        return f"{reason}; rolled back to {previous}"
    return f"{reason}; no previous model to roll back to"


@dataclass
class RollbackResult:
    model_id: str
    replaced: str
    threshold_version: int | None  # model_id's threshold now in force (None: it never had one)
    pairs_changed: bool  # the scorer must be redeployed (lakewatch_scorer_deploy)


def rollback_model(
    settings: Settings,
    clients: ClientFactory,
    hosting: ModelHosting,
    to_model_id: str = "",
    reason: str = "manual rollback",
) -> RollbackResult:
    """On-call's rollback: serve the previous (or a named) model again, and republish the
    last threshold published for it so findings use a threshold of the model that scores."""
    registry = model_registry(settings, clients)
    state = registry.endpoint(settings.endpoint_name)
    target = to_model_id or state.previous
    if not target:
        raise DeployError(f"{settings.endpoint_name} has no previous model to roll back to")
    old, new = registry.get(state.current) if state.current else None, registry.get(target)
    if new is None:
        raise DeployError(f"model {target} is not in the registry ({settings.models_prefix})")
    rollback(settings, clients, target, reason, hosting)
    ssm = clients("ssm")
    try:
        versions = history(ssm, settings.threshold_parameter)
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") != "ParameterNotFound":
            raise
        versions = []  # nothing published yet
    mine = [v for v in versions if v.get("model_id") == target]
    version = None
    if mine and versions[-1].get("model_id") != target:
        version = restore(ssm, settings.threshold_parameter, mine[-1]["version"])
    elif mine:
        version = versions[-1]["version"]
    return RollbackResult(target, state.current, version, _pairs(old) != _pairs(new))


def _pairs(record: ModelRecord | None) -> str:
    return (record.extra.get("pairs") or "") if record else ""


def smoke(
    settings: Settings,
    clients: ClientFactory,
    entities: list[str],
    addresses: list[str],
    min_auc: float,
) -> SmokeResult:
    return smoke_check(
        clients("sagemaker-runtime"), settings.endpoint_name, entities, addresses, min_auc=min_auc
    )


__all__ = [
    "DeployError",
    "RollbackResult",
    "ServingStarted",
    "deploy",
    "finish_deploy",
    "model_registry",
    "roll_back_refused",
    "rollback",
    "rollback_model",
    "smoke",
    "start_deploy",
]
