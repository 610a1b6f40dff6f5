"""The steps of ``lakewatch_train``, one function per task, so its DAG file only wires.

Each step takes what Airflow hands the task (params, XComs, the run's dates), builds the
task's settings and clients (``runtime``), calls the training or serving code, logs what it
did and returns the task's XCom. Airflow's own outcomes are decided here: too little data
skips the run, a deploy or smoke check that failed and rolled back fails it without retry.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import Param, PokeReturnValue
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from lakewatch.orchestration.assets import DEPLOYED_MODEL
from lakewatch.orchestration.runtime import log, task_clients, task_settings
from lakewatch.training import pipeline
from lakewatch.training.pipeline import TrainingJob
from lakewatch.training.plan import NotEnoughData

if TYPE_CHECKING:
    pass


# ``choose_training``'s branch: the task that trains for each ``TrainingJob.action``
TRAINING_TASKS = {
    "local": "train_local",
    "start": "train_sagemaker",
    "wait": "wait_for_training",
    "reuse": "reuse_training",
}


def sagemaker_paths(job: Any) -> list[Any]:
    """The branch's three other trainings, after ``train_local``: start the SageMaker job
    (deferred: it runs for hours, its wait belongs in the triggerer), wait for one already
    running, or reuse one that finished; the IP Insights and the RCF DAGs share them. ``job``
    is the ``training_job`` task's output. Called inside the DAG's definition."""
    from airflow.providers.amazon.aws.operators.sagemaker import SageMakerTrainingOperator
    from airflow.providers.amazon.aws.sensors.sagemaker import SageMakerTrainingSensor
    from airflow.providers.standard.operators.empty import EmptyOperator

    from lakewatch.orchestration.runtime import AWS_CONN_ID

    start = SageMakerTrainingOperator(
        task_id=TRAINING_TASKS["start"],
        config=job["config"],
        aws_conn_id=AWS_CONN_ID,
        wait_for_completion=True,
        check_if_job_exists=True,
        action_if_job_exists="fail",
        deferrable=True,
        execution_timeout=timedelta(hours=6),
    )
    wait = SageMakerTrainingSensor(
        task_id=TRAINING_TASKS["wait"],
        job_name=job["name"],
        aws_conn_id=AWS_CONN_ID,
        mode="reschedule",
        poke_interval=60,
        timeout=6 * 3600,
    )
    return [start, wait, EmptyOperator(task_id=TRAINING_TASKS["reuse"])]


def hyperparameter_params() -> dict[str, Param]:
    """One DAG param per IP Insights hyperparameter, defaulting to
    ``pipeline.default_hyperparameters``; an unset one is sized to the window."""
    return {
        name: Param(
            value,
            type=_json_type(value),
            description=f"IP Insights hyperparameter {name} (SageMaker's meaning)"
            + ("; empty: sized to the window (docs/detector.md)" if value is None else ""),
        )
        for name, value in pipeline.default_hyperparameters().items()
    }


def _json_type(value: Any) -> str | list[str]:
    """The param's JSON Schema type: unset ones are integers (epochs, batch size)."""
    if value is None:
        return ["null", "integer"]
    return "integer" if isinstance(value, int) else "number"


def plan(params: dict[str, Any], logical_date: datetime | None, dag_run: Any) -> dict[str, Any]:
    """The window's extracts and hyperparameters; too little data skips the run."""
    from lakewatch.backends import backend_for

    settings = task_settings()
    when = logical_date or dag_run.run_after
    algorithm = backend_for(settings).training_algorithm(params["algorithm"])
    options = pipeline.TrainOptions.from_params(params, algorithm)
    try:
        result = pipeline.plan(settings, task_clients(settings), when.date(), options)
    except NotEnoughData as err:
        raise AirflowSkipException(f"not training: {err}") from None
    log.info(
        "model %s: %s training pairs from %s (missing days: %s)",
        result.model_id,
        f"{result.train_rows:,}",
        ", ".join(result.days),
        result.missing_days or "none",
    )
    return result.to_json()


def training_job(plan_doc: dict[str, Any]) -> dict[str, Any]:
    """The backend's way to train the plan: in the worker, or a SageMaker job."""
    from lakewatch.backends import backend_for

    settings = task_settings()
    return backend_for(settings).training_job(task_clients(settings), plan_doc).to_json()


def choose_training(job_doc: dict[str, Any]) -> str:
    """The branch: the one training task the job's action names."""
    return TRAINING_TASKS[TrainingJob.from_json(job_doc).action]


def train_local(plan_doc: dict[str, Any]) -> dict[str, Any]:
    """lakewatch's IP Insights in this worker (the local backend; its log is the task's)."""
    settings = task_settings()
    return pipeline.train_local(settings, task_clients(settings), plan_doc, log=log.info)


def register(plan_doc: dict[str, Any], job_doc: dict[str, Any], ti: Any) -> dict[str, Any]:
    """The model record of whichever training task ran."""
    settings = task_settings()
    job = TrainingJob.from_json(job_doc)
    local = ti.xcom_pull(task_ids="train_local") if job.action == "local" else None
    record = pipeline.register_trained(settings, task_clients(settings), plan_doc, job, local)
    log.info("registered %s: %s (%s)", record.model_id, record.artifact_uri, record.metrics)
    return record.to_json()


def deploy(record_doc: dict[str, Any]) -> dict[str, Any]:
    """Start putting the model on the endpoint; ``wait_for_endpoint`` waits for it."""
    from lakewatch.backends import backend_for
    from lakewatch.model.registry import ModelRecord
    from lakewatch.serving import deploy as serving

    settings = task_settings()
    started = serving.start_deploy(
        settings, task_clients(settings), ModelRecord(**record_doc), backend_for(settings)
    )
    doc = started.to_json()
    log.info("endpoint %s: deploying %s (%s)", settings.endpoint_name, started.model_id, doc)
    return doc


def endpoint_settled(started_doc: dict[str, Any]) -> PokeReturnValue:
    """The sensor's poke: has the endpoint finished changing?"""
    from lakewatch.backends import backend_for
    from lakewatch.serving.deploy import ServingStarted

    settings = task_settings()
    started = ServingStarted.from_json(started_doc)
    done, state = backend_for(settings).serving_settled(task_clients(settings), started)
    log.info("endpoint: %s", state)
    return PokeReturnValue(is_done=done)


def finish_deploy(started_doc: dict[str, Any]) -> dict[str, Any]:
    """The deploy's outcome (a ``DeployResult``); a failed one was rolled back already: a
    retry would not help."""
    from lakewatch.backends import backend_for
    from lakewatch.serving import deploy as serving
    from lakewatch.serving.deploy import ServingStarted

    settings = task_settings()
    started = ServingStarted.from_json(started_doc)
    try:
        result = serving.finish_deploy(
            settings, task_clients(settings), started, backend_for(settings)
        )
    except serving.DeployError as err:
        raise AirflowFailException(str(err)) from None
    log.info(
        "endpoint %s serves %s (%s; previous: %s)",
        result.endpoint,
        result.model_id,
        "changed" if result.changed else "unchanged",
        result.previous_model_id or "none",
    )
    return asdict(result)


def publish_detector(record_doc: dict[str, Any], deployed: dict[str, Any]) -> dict[str, Any]:
    """The detector beside the deployed model (built through the endpoint if need be)."""
    from lakewatch.model.registry import ModelRecord
    from lakewatch.training.detector import publish_detector as publish

    settings = task_settings()
    result = publish(settings, task_clients(settings), ModelRecord(**record_doc), log=log.info)
    log.info("detector of %s: %s (%s)", deployed["model_id"], result["detector"], result["how"])
    return result


def smoke_check(
    plan_doc: dict[str, Any], deployed: dict[str, Any], params: dict[str, Any], outlet_events: Any
) -> dict[str, Any]:
    """The endpoint must tell known-normal pairs from random ones, or the previous model
    goes back and the run fails; success is the ``lakewatch_deployed_model`` event."""
    from lakewatch.backends import backend_for
    from lakewatch.serving import deploy as serving
    from lakewatch.serving.deploy import DeployResult
    from lakewatch.serving.smoke import SmokeCheckFailed

    settings = task_settings()
    clients = task_clients(settings)
    entities, addresses = pipeline.validation_sample(settings, clients, plan_doc)
    try:
        result = serving.smoke(settings, clients, entities, addresses, params["smoke_min_auc"])
    except SmokeCheckFailed as err:
        reason = serving.roll_back_refused(
            settings, clients, DeployResult(**deployed), str(err), backend_for(settings)
        )
        raise AirflowFailException(reason) from None
    log.info(result.line())
    outlet_events[DEPLOYED_MODEL].extra = {
        "model_id": deployed["model_id"],
        "smoke_auc": result.auc,
    }
    return {"model_id": deployed["model_id"], "auc": result.auc}
