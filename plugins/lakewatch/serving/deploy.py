"""Deploy, smoke-check and roll back a registered model on the configured backend."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from lakewatch.extract.daily import results_store
from lakewatch.model.registry import ModelRecord, Registry
from lakewatch.serving.local import DeployError, DeployResult, LocalEndpoints
from lakewatch.serving.sagemaker import SageMakerEndpoints
from lakewatch.serving.smoke import SmokeResult, smoke_check
from lakewatch.settings import Settings
from lakewatch.training.sagemaker import model_config


def model_registry(settings: Settings, clients: Any) -> Registry:
    return Registry(results_store(settings, clients), settings.models_prefix)


def deploy(settings: Settings, clients: Any, record: ModelRecord) -> DeployResult:
    """Serve ``record`` on the endpoint; a no-op when it already does."""
    if settings.backend == "local":
        from lakewatch.training.pipeline import fetch_artifact

        local = LocalEndpoints(settings)
        model_dir = local.install(
            record.model_id, fetch_artifact(settings, clients, record.artifact_uri)
        )
        result = local.deploy(settings.endpoint_name, record.model_id, model_dir)
    else:
        endpoints = SageMakerEndpoints(
            clients("sagemaker"), instance_type=settings.endpoint_instance_type
        )
        config = model_config(
            name=record.model_id,
            algorithm=record.algorithm,
            artifact=record.artifact_uri,
            region=settings.region,
            role_arn=settings.sagemaker_role_arn,
            instance_type=settings.endpoint_instance_type,
            source_uri=record.extra.get("source_uri", ""),
        )
        result = endpoints.deploy(settings.endpoint_name, record.model_id, config)
    if result.changed:
        model_registry(settings, clients).record_deploy(
            settings.endpoint_name, record.model_id, "deploy", result.detail
        )
    return result


def rollback(settings: Settings, clients: Any, to_model_id: str, reason: str) -> None:
    """Serve ``to_model_id`` again and record why."""
    registry = model_registry(settings, clients)
    if settings.backend == "local":
        LocalEndpoints(settings).rollback(settings.endpoint_name, to_model_id)
    else:
        from lakewatch.names import endpoint_config_name

        SageMakerEndpoints(clients("sagemaker")).rollback(
            settings.endpoint_name, endpoint_config_name(settings.endpoint_name, to_model_id)
        )
    registry.record_deploy(settings.endpoint_name, to_model_id, "rollback", {"reason": reason})


@dataclass
class RollbackResult:
    model_id: str
    replaced: str
    threshold_version: int | None  # model_id's threshold now in force (None: it never had one)
    pairs_changed: bool  # the scorer must be redeployed (lakewatch_scorer_deploy)


def rollback_model(
    settings: Settings, clients: Any, to_model_id: str = "", reason: str = "manual rollback"
) -> RollbackResult:
    """On-call's rollback: serve the previous (or a named) model again, and republish the
    last threshold published for it so findings use a threshold of the model that scores."""
    from lakewatch.threshold.publish import history, restore

    registry = model_registry(settings, clients)
    state = registry.endpoint(settings.endpoint_name)
    target = to_model_id or state.previous
    if not target:
        raise DeployError(f"{settings.endpoint_name} has no previous model to roll back to")
    old, new = registry.get(state.current) if state.current else None, registry.get(target)
    if new is None:
        raise DeployError(f"model {target} is not in the registry ({settings.models_prefix})")
    rollback(settings, clients, target, reason)
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
    settings: Settings, clients: Any, entities: list[str], addresses: list[str], min_auc: float
) -> SmokeResult:
    return smoke_check(
        clients("sagemaker-runtime"), settings.endpoint_name, entities, addresses, min_auc=min_auc
    )


__all__ = [
    "DeployError",
    "RollbackResult",
    "deploy",
    "model_registry",
    "rollback",
    "rollback_model",
    "smoke",
]
