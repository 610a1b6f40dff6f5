"""Deploy, smoke-check and roll back a registered model on the configured backend."""

from __future__ import annotations

from typing import Any

from lakewatch.extract.daily import results_store
from lakewatch.model.registry import ModelRecord, Registry
from lakewatch.serving.local import DeployError, DeployResult, LocalEndpoints
from lakewatch.serving.sagemaker import SageMakerEndpoints
from lakewatch.serving.smoke import SmokeResult, smoke_check
from lakewatch.settings import Settings
from lakewatch.training.sagemaker import model_config


def _registry(settings: Settings, clients: Any) -> Registry:
    return Registry(results_store(settings, clients), settings.models_prefix)


def deploy(settings: Settings, clients: Any, record: ModelRecord) -> DeployResult:
    """Serve ``record`` on the endpoint; a no-op when it already does."""
    if settings.backend == "local":
        from lakewatch.training.pipeline import fetch_artifact

        endpoints = LocalEndpoints(settings)
        model_dir = endpoints.install(
            record.model_id, fetch_artifact(settings, clients, record.artifact_uri)
        )
        result = endpoints.deploy(settings.endpoint_name, record.model_id, model_dir)
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
        _registry(settings, clients).record_deploy(
            settings.endpoint_name, record.model_id, "deploy", result.detail
        )
    return result


def rollback(settings: Settings, clients: Any, to_model_id: str, reason: str) -> None:
    """Serve ``to_model_id`` again and record why."""
    registry = _registry(settings, clients)
    if settings.backend == "local":
        LocalEndpoints(settings).rollback(settings.endpoint_name, to_model_id)
    else:
        from lakewatch.names import endpoint_config_name

        SageMakerEndpoints(clients("sagemaker")).rollback(
            settings.endpoint_name, endpoint_config_name(settings.endpoint_name, to_model_id)
        )
    registry.record_deploy(settings.endpoint_name, to_model_id, "rollback", {"reason": reason})


def smoke(
    settings: Settings, clients: Any, entities: list[str], addresses: list[str], min_auc: float
) -> SmokeResult:
    return smoke_check(
        clients("sagemaker-runtime"), settings.endpoint_name, entities, addresses, min_auc=min_auc
    )


__all__ = ["DeployError", "deploy", "rollback", "smoke"]
