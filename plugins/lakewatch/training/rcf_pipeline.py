"""The RCF model's train DAG steps on lakewatch's settings: plan the window, train it in the
worker (``local``), register what trained (either backend), and the rows its deploy's smoke
check sends. ``training.rcf_plan`` holds the window's mechanics; this module adds the
settings, the registry and the SageMaker job's outcome, as ``training.pipeline`` does for IP
Insights (whose ``TrainingJob`` and ``Backend.training_job`` dispatch both algorithms)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np

from lakewatch.aws.clients import ClientFactory
from lakewatch.extract.daily import results_store
from lakewatch.model.registry import ModelRecord, Registry
from lakewatch.settings import Settings
from lakewatch.training.pipeline import TrainingJob, sagemaker_metrics
from lakewatch.training.rcf_plan import (
    FeatureQuery,
    RcfPlan,
    plan_rcf,
    publish_features,
    train_rcf_local,
)

HOLDOUT_DAYS = 1  # the latest complete days left out of the window: the threshold's hours


def window_end_for(run_day: date, holdout_days: int = HOLDOUT_DAYS) -> date:
    """The training window's end (exclusive) for a run on ``run_day``: the latest
    ``holdout_days`` complete days are left out, so the recalibration that the deploy
    triggers has held-out hours the model never saw (``rcf_recalibrate.heldout_days``)."""
    return run_day - timedelta(days=holdout_days)


def plan(
    settings: Settings,
    clients: ClientFactory,
    engine: FeatureQuery,
    window_end: date,
    *,
    window_days: int = 7,
    min_rows: int = 500,
    hyperparameters: dict[str, Any] | None = None,
) -> RcfPlan:
    """The window's training set written (``NotEnoughData`` for too few hours)."""
    return plan_rcf(
        engine,
        results_store(settings, clients),
        models_prefix=settings.models_prefix,
        region=settings.region,
        source_version=settings.source_version,
        window_end=window_end,
        window_days=window_days,
        min_rows=min_rows,
        hyperparameters=hyperparameters,
    )


def train_local(
    settings: Settings, clients: ClientFactory, plan_doc: dict[str, Any], log=print
) -> dict[str, Any]:
    artifact = train_rcf_local(
        RcfPlan.from_json(plan_doc),
        results_store(settings, clients),
        clients,
        models_prefix=settings.models_prefix,
        log=log,
    )
    return {"artifact": artifact}


def register(
    settings: Settings,
    clients: ClientFactory,
    plan_doc: dict[str, Any],
    job: TrainingJob,
    local: dict[str, Any] | None,
) -> ModelRecord:
    """The RCF model's record: ``local``'s artifact when the worker trained, else the
    SageMaker job's, with the profile then put beside the model (where the scorer reads it)."""
    plan_ = RcfPlan.from_json(plan_doc)
    store = results_store(settings, clients)
    if job.action == "local":
        if local is None:
            raise ValueError("the worker trained, but train_local left no result")
        artifact, job_name, metrics = local["artifact"], "", {}
    else:
        publish_features(store, plan_, models_prefix=settings.models_prefix)
        artifact, job_name = job.artifact, job.name
        metrics = sagemaker_metrics(clients, job_name)
    record = ModelRecord(
        model_id=plan_.model_id,
        artifact_uri=artifact,
        algorithm="rcf",
        hyperparameters=plan_.hyperparameters,
        data_interval={"start": plan_.window_start, "end": plan_.window_end},
        days=[],
        metrics={"rows": plan_.rows, "instances": plan_.instances, **metrics},
        training_job=job_name,
        extra={"features": store.uri(plan_.features_key), "train": store.uri(plan_.train_key)},
    )
    Registry(store, settings.models_prefix).register(record)
    return record


def smoke_rows(
    settings: Settings, clients: ClientFactory, plan_doc: dict[str, Any], rows: int = 500
) -> np.ndarray:
    """The first ``rows`` standardized training rows: what the smoke check calls normal."""
    body = results_store(settings, clients).get(RcfPlan.from_json(plan_doc).train_key)
    lines = body.decode().splitlines()[:rows]
    return np.loadtxt(lines, delimiter=",", ndmin=2)
