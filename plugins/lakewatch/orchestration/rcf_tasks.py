"""The steps of ``lakewatch_rcf_train``, ``lakewatch_rcf_recalibrate`` and
``lakewatch_rcf_score``, one function per task (the steps both models share, the training
job's dispatch and the endpoint's wait and outcome, are ``train_tasks``'). Airflow's outcomes
are decided here, as for IP Insights: too few hours skip the run, a failed smoke check rolls
back and fails it, a refused threshold fails the night with its reasons (the previous one
stays), an hour with nothing to score it with yet (no model served, no threshold or profile
published) is skipped."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from lakewatch.orchestration import recalibrate_tasks
from lakewatch.orchestration.assets import DEPLOYED_RCF_MODEL, RCF_THRESHOLD
from lakewatch.orchestration.runtime import log, task_clients, task_settings
from lakewatch.training.plan import NotEnoughData


def plan(params: dict[str, Any], logical_date: datetime | None, dag_run: Any) -> dict[str, Any]:
    """The window's feature rows as a training set; too few hours skip the run."""
    from lakewatch.backends import backend_for
    from lakewatch.training import rcf_pipeline

    settings = task_settings()
    clients = task_clients(settings)
    when = logical_date or dag_run.run_after
    try:
        result = rcf_pipeline.plan(
            settings,
            clients,
            backend_for(settings).sql_engine(clients),
            rcf_pipeline.window_end_for(when.date()),
            window_days=params["window_days"],
            min_rows=params["min_train_hours"],
            hyperparameters={
                "num_trees": params["num_trees"],
                "num_samples_per_tree": params["num_samples_per_tree"],
            },
        )
    except NotEnoughData as err:
        raise AirflowSkipException(f"not training RCF: {err}") from None
    log.info("RCF model %s: %s instance-hours", result.model_id, f"{result.rows:,}")
    return result.to_json()


def train_local(plan_doc: dict[str, Any]) -> dict[str, Any]:
    from lakewatch.training import rcf_pipeline

    settings = task_settings()
    return rcf_pipeline.train_local(settings, task_clients(settings), plan_doc, log=log.info)


def register(plan_doc: dict[str, Any], job_doc: dict[str, Any], ti: Any) -> dict[str, Any]:
    from lakewatch.training import rcf_pipeline
    from lakewatch.training.pipeline import TrainingJob

    settings = task_settings()
    job = TrainingJob.from_json(job_doc)
    local = ti.xcom_pull(task_ids="train_local") if job.action == "local" else None
    record = rcf_pipeline.register(settings, task_clients(settings), plan_doc, job, local)
    log.info("registered %s: %s", record.model_id, record.artifact_uri)
    return record.to_json()


def smoke_check(
    plan_doc: dict[str, Any], deployed: dict[str, Any], params: dict[str, Any], outlet_events: Any
) -> dict[str, Any]:
    """The RCF endpoint must score far-off rows above the training rows, or the previous
    model goes back and the run fails; success is the ``lakewatch_deployed_rcf_model``
    event."""
    from lakewatch.backends import backend_for
    from lakewatch.serving import deploy as serving
    from lakewatch.serving.deploy import DeployResult
    from lakewatch.serving.rcf_smoke import rcf_smoke_check
    from lakewatch.serving.smoke import SmokeCheckFailed
    from lakewatch.training import rcf_pipeline

    settings = task_settings()
    clients = task_clients(settings)
    rows = rcf_pipeline.smoke_rows(settings, clients, plan_doc)
    try:
        result = rcf_smoke_check(
            clients("sagemaker-runtime"), deployed["endpoint"], rows, params["smoke_min_auc"]
        )
    except SmokeCheckFailed as err:
        reason = serving.roll_back_refused(
            settings, clients, DeployResult(**deployed), str(err), backend_for(settings)
        )
        raise AirflowFailException(reason) from None
    log.info(result.line())
    outlet_events[DEPLOYED_RCF_MODEL].extra = {
        "model_id": deployed["model_id"],
        "smoke_auc": result.auc,
    }
    return {"model_id": deployed["model_id"], "auc": result.auc}


def choose_threshold(
    params: dict[str, Any], logical_date: datetime | None, dag_run: Any, run_id: str
) -> dict[str, Any]:
    """The night's RCF threshold from the held-out hours of the served model; refused: the
    run fails with the reasons, the evidence written."""
    from lakewatch.backends import backend_for
    from lakewatch.extract.daily import results_store
    from lakewatch.extract.rcf_features import FEATURES_FILE, FeatureProfile
    from lakewatch.names import artifact_key, serving_endpoint
    from lakewatch.serving.deploy import model_registry
    from lakewatch.threshold.rcf_recalibrate import choose_rcf, heldout_days, heldout_scores
    from lakewatch.threshold.recalibrate import Refused

    settings = task_settings()
    clients = task_clients(settings)
    endpoint = serving_endpoint("rcf-", settings.endpoint_name, settings.rcf_endpoint_name)
    registry = model_registry(settings, clients)
    model_id = registry.endpoint(endpoint).current
    record = registry.get(model_id) if model_id else None
    if record is None:
        raise AirflowSkipException(f"no RCF model serves on {endpoint} yet")
    store = results_store(settings, clients)
    features = store.get(artifact_key(settings.models_prefix, model_id, FEATURES_FILE))
    profile = FeatureProfile.from_dict(json.loads(features))
    night = recalibrate_tasks.night(logical_date, dag_run)  # IP Insights' night: the day before
    window_end = date.fromisoformat(record.data_interval["end"])
    try:
        heldout_days(window_end, night + timedelta(days=1))  # held-out days end with the night's
    except ValueError as err:  # the model trained on every day so far: the next night has one
        raise AirflowSkipException(f"not recalibrating RCF: {err}") from None
    scores, hours = heldout_scores(
        backend_for(settings).sql_engine(clients),
        clients("sagemaker-runtime"),
        endpoint,
        profile,
        region=settings.region,
        source_version=settings.source_version,
        window_end=window_end,
        night=night + timedelta(days=1),
    )
    try:
        chosen = choose_rcf(
            store,
            clients("ssm"),
            thresholds_prefix=settings.thresholds_prefix,
            threshold_parameter=settings.threshold_parameter,
            day=night.isoformat(),
            model_id=model_id,
            endpoint=endpoint,
            scores=scores,
            hour_starts=hours,
            target_fpr=params["target_fpr"],
            override=params["override"],
            run_id=run_id,
        )
    except Refused as err:
        raise AirflowFailException(str(err)) from None
    log.info("RCF threshold %.4f for %s (%s)", chosen.threshold, model_id, chosen.record_uri)
    return {"day": night.isoformat(), "threshold": chosen.threshold}


def publish(chosen: dict[str, Any], outlet_events: Any) -> dict[str, Any]:
    from lakewatch.extract.daily import results_store
    from lakewatch.threshold.rcf_recalibrate import publish_rcf

    settings = task_settings()
    clients = task_clients(settings)
    record = publish_rcf(
        results_store(settings, clients),
        clients("ssm"),
        thresholds_prefix=settings.thresholds_prefix,
        threshold_parameter=settings.threshold_parameter,
        day=chosen["day"],
    )
    outlet_events[RCF_THRESHOLD].extra = {"model_id": record.model_id, "version": record.version}
    log.info("RCF threshold %.4f published as version %d", record.threshold, record.version)
    return {"version": record.version, "threshold": record.threshold}


def score_hour(
    params: dict[str, Any], logical_date: datetime | None, dag_run: Any
) -> dict[str, Any]:
    """One closed UTC hour of the whole lake through the RCF (``scoring.rcf_hourly``): the
    last hour that ended ``lag_minutes`` before the run's logical date (a backfill's too),
    or ``params["hour"]`` when given; skipped while there is nothing to score it with."""
    from lakewatch.backends import backend_for
    from lakewatch.names import serving_endpoint
    from lakewatch.scoring import rcf_hourly
    from lakewatch.serving.deploy import model_registry
    from lakewatch.serving.lambda_config import settings_config

    settings = task_settings()
    clients = task_clients(settings)
    hour = (
        rcf_hourly.hour_start(params["hour"])
        if params.get("hour")
        else rcf_hourly.closed_hour(
            logical_date or dag_run.run_after, timedelta(minutes=params["lag_minutes"])
        )
    )
    endpoint = serving_endpoint("rcf-", settings.endpoint_name, settings.rcf_endpoint_name)
    if not model_registry(settings, clients).endpoint(endpoint).current:
        raise AirflowSkipException(
            f"not scoring {hour:%Y-%m-%dT%H}h: no RCF model serves on {endpoint} yet"
        )
    # where the real-time scorer writes, imports and alerts
    config = settings_config(settings, rcf_endpoint_name=endpoint)
    try:
        result = rcf_hourly.score_hour(
            backend_for(settings).sql_engine(clients),
            clients,
            config,
            hour,
            source_version=settings.source_version,
        )
    except rcf_hourly.NotReady as err:
        raise AirflowSkipException(f"not scoring {hour:%Y-%m-%dT%H}h: {err}") from None
    log.info(result.line())
    return result.to_json()
