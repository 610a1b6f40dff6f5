"""lakewatch_train: train IP Insights on the trailing window of daily extracts and deploy it.

Runs daily and whenever new extracts land (the ``lakewatch_training_pairs`` Asset). Steps:

1. ``plan``: the window's published extracts, SageMaker manifest files listing their parts,
   hyperparameters (``num_entity_vectors`` from the entity count). Too little data ends the run
   cleanly (skipped), leaving the deployed model alone.
2. training: ``local`` trains lakewatch's IP Insights in the worker; ``aws`` runs
   ``SageMakerTrainingOperator`` (built-in ``ipinsights`` image or lakewatch in script mode), or
   waits for / reuses the job a previous try started: names derive from the model id.
3. ``register``: the model record (artifact, hyperparameters, interval, metrics).
4. ``deploy`` starts the endpoint's create or update, ``wait_for_endpoint`` (a sensor in
   reschedule mode: no worker held while SageMaker brings it into service) waits, and
   ``finish_deploy`` checks it serves the new config (else rolls back and fails);
   ``publish_detector`` (the history evidence beside the model: written by lakewatch's
   trainer, or built through the endpoint for SageMaker's built-in model) and
   ``smoke_check`` (all in pool ``lakewatch_endpoint``, one slot): the endpoint must
   score known-normal pairs above random-address pairs, or it is rolled back and the run fails.
   Success updates the ``lakewatch_deployed_model`` Asset.

Operate: rerun a failed step by clearing it (every step is idempotent); roll back by clearing
nothing and running ``lakewatch model rollback`` (README, "Operate").
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.providers.amazon.aws.operators.sagemaker import SageMakerTrainingOperator
from airflow.providers.amazon.aws.sensors.sagemaker import SageMakerTrainingSensor
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, Param, dag, task

from lakewatch.extract.views import DEFAULT_VIEWS, VIEWS
from lakewatch.orchestration.alerts import failure_notifier, late_run_alert
from lakewatch.orchestration.assets import DEPLOYED_MODEL, TRAINING_PAIRS
from lakewatch.settings import Settings
from lakewatch.training.pipeline import default_hyperparameters

POOL = "lakewatch_endpoint"
AWS_CONN_ID = Settings().aws_conn_id
DEFAULT_ARGS = {
    "owner": "security-data-platform",
    "retries": 2,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": True,
}
HP = default_hyperparameters()


@dag(
    dag_id="lakewatch_train",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 3 * * *", timezone="UTC"), assets=TRAINING_PAIRS
    ),
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    on_failure_callback=failure_notifier(),
    deadline=late_run_alert("lakewatch_train", timedelta(hours=8)),
    tags=["lakewatch", "ipinsights", "train", "deploy"],
    doc_md=__doc__,
    params={
        "window_days": Param(
            7, type="integer", minimum=1, maximum=90, description="days of extracts to train on"
        ),
        "min_train_rows": Param(
            1000, type="integer", minimum=1, description="fewer training pairs end the run cleanly"
        ),
        "views": Param(
            list(DEFAULT_VIEWS),
            type="array",
            items={"type": "string", "enum": list(VIEWS)},
            description="must match the extracts' views",
        ),
        "include_ipv6": Param(False, type="boolean"),
        "algorithm": Param(
            "lakewatch",
            enum=["lakewatch", "builtin"],
            description="aws backend: SageMaker's built-in ipinsights or "
            "lakewatch's trainer in script mode",
        ),
        "smoke_min_auc": Param(0.8, type="number", minimum=0.5, maximum=1.0),
        **{
            name: Param(
                value,
                type=(
                    ["null", "integer"]
                    if value is None
                    else "integer"
                    if isinstance(value, int)
                    else "number"
                ),
                description=f"IP Insights hyperparameter {name} (SageMaker's meaning)"
                + ("; empty: sized to the window (README, Model quality)" if value is None else ""),
            )
            for name, value in HP.items()
        },
    },
)
def lakewatch_train():
    @task
    def plan(*, params=None, logical_date=None, dag_run=None) -> dict:
        from airflow.sdk.exceptions import AirflowSkipException

        from lakewatch.backends import backend_for
        from lakewatch.orchestration.runtime import log, task_clients, task_settings
        from lakewatch.training import pipeline
        from lakewatch.training.plan import NotEnoughData

        settings = task_settings()
        when = logical_date or dag_run.run_after
        algorithm = backend_for(settings).training_algorithm(params["algorithm"])
        options = pipeline.TrainOptions(
            window_days=params["window_days"],
            min_train_rows=params["min_train_rows"],
            views=tuple(params["views"]),
            include_ipv6=params["include_ipv6"],
            algorithm=algorithm,
            hyperparameters={name: params[name] for name in pipeline.HP_PARAMS},
        )
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
        doc = result.to_json()
        doc["algorithm"] = algorithm
        return doc

    @task
    def training_job(plan_doc: dict) -> dict:
        from lakewatch.backends import backend_for
        from lakewatch.orchestration.runtime import task_clients, task_settings

        settings = task_settings()
        return backend_for(settings).training_job(task_clients(settings), plan_doc)

    @task.branch
    def choose_training(job: dict) -> str:
        return {
            "local": "train_local",
            "start": "train_sagemaker",
            "wait": "wait_for_training",
            "reuse": "reuse_training",
        }[job["action"]]

    @task
    def train_local(plan_doc: dict) -> dict:
        from lakewatch.orchestration.runtime import log, task_clients, task_settings
        from lakewatch.training import pipeline

        settings = task_settings()
        return pipeline.train_local(settings, task_clients(settings), plan_doc, log=log.info)

    @task(trigger_rule="none_failed_min_one_success")
    def register(plan_doc: dict, job: dict, *, ti=None) -> dict:
        from lakewatch.orchestration.runtime import log, task_clients, task_settings
        from lakewatch.training import pipeline

        settings = task_settings()
        clients = task_clients(settings)
        if job["action"] == "local":
            local = ti.xcom_pull(task_ids="train_local")
            artifact, job_name = local["artifact"], ""
            metrics = {
                k: v
                for k, v in local.get("stats", {}).items()
                if k.startswith("validation") or k in ("train_pairs", "train_entities")
            }
        else:
            artifact, job_name = job["artifact"], job["name"]
            metrics = pipeline.sagemaker_metrics(clients, job_name)
        record = pipeline.register(
            settings,
            clients,
            plan_doc,
            plan_doc["algorithm"],
            artifact,
            metrics,
            job_name,
            job.get("source_uri", ""),
        )
        log.info("registered %s: %s (%s)", record.model_id, artifact, metrics)
        return record.to_json()

    @task(pool=POOL, execution_timeout=timedelta(minutes=30))
    def deploy(record_doc: dict) -> dict:
        from lakewatch.backends import backend_for
        from lakewatch.model.registry import ModelRecord
        from lakewatch.orchestration.runtime import log, task_clients, task_settings
        from lakewatch.serving import deploy as serving

        settings = task_settings()
        started = serving.start_deploy(
            settings, task_clients(settings), ModelRecord(**record_doc), backend_for(settings)
        )
        log.info(
            "endpoint %s: deploying %s (%s)",
            settings.endpoint_name,
            record_doc["model_id"],
            started,
        )
        return started

    # SageMaker takes minutes to bring an endpoint into service: wait without a worker slot
    @task.sensor(pool=POOL, poke_interval=30, timeout=2 * 3600, mode="reschedule")
    def wait_for_endpoint(started: dict):
        from airflow.sdk import PokeReturnValue

        from lakewatch.backends import backend_for
        from lakewatch.orchestration.runtime import log, task_clients, task_settings

        settings = task_settings()
        done, state = backend_for(settings).serving_settled(task_clients(settings), started)
        log.info("endpoint: %s", state)
        return PokeReturnValue(is_done=done)

    @task(pool=POOL)
    def finish_deploy(started: dict) -> dict:
        from airflow.sdk.exceptions import AirflowFailException

        from lakewatch.backends import backend_for
        from lakewatch.orchestration.runtime import log, task_clients, task_settings
        from lakewatch.serving import deploy as serving

        settings = task_settings()
        try:
            result = serving.finish_deploy(
                settings, task_clients(settings), started, backend_for(settings)
            )
        except serving.DeployError as err:  # rolled back already: a retry would not help
            raise AirflowFailException(str(err)) from None
        log.info(
            "endpoint %s serves %s (%s; previous: %s)",
            result.endpoint,
            result.model_id,
            "changed" if result.changed else "unchanged",
            result.previous_model_id or "none",
        )
        return {
            "model_id": result.model_id,
            "previous_model_id": result.previous_model_id,
            "changed": result.changed,
        }

    @task(pool=POOL)
    def publish_detector(record_doc: dict, deployed: dict) -> dict:
        from lakewatch.model.registry import ModelRecord
        from lakewatch.orchestration.runtime import log, task_clients, task_settings
        from lakewatch.training.detector import publish_detector as publish

        settings = task_settings()
        result = publish(settings, task_clients(settings), ModelRecord(**record_doc), log=log.info)
        log.info("detector of %s: %s (%s)", deployed["model_id"], result["detector"], result["how"])
        return result

    @task(pool=POOL, outlets=[DEPLOYED_MODEL])
    def smoke_check(plan_doc: dict, deployed: dict, *, params=None, outlet_events=None) -> dict:
        from airflow.sdk.exceptions import AirflowFailException

        from lakewatch.backends import backend_for
        from lakewatch.orchestration.runtime import log, task_clients, task_settings
        from lakewatch.serving import deploy as serving
        from lakewatch.serving.smoke import SmokeCheckFailed
        from lakewatch.training.pipeline import validation_sample

        settings = task_settings()
        clients = task_clients(settings)
        entities, addresses = validation_sample(settings, clients, plan_doc)
        try:
            result = serving.smoke(settings, clients, entities, addresses, params["smoke_min_auc"])
        except SmokeCheckFailed as err:
            previous = deployed["previous_model_id"]
            if previous and deployed["changed"]:
                serving.rollback(settings, clients, previous, str(err), backend_for(settings))
                raise AirflowFailException(f"{err}; rolled back to {previous}") from None
            raise AirflowFailException(f"{err}; no previous model to roll back to") from None
        log.info(result.line())
        outlet_events[DEPLOYED_MODEL].extra = {
            "model_id": deployed["model_id"],
            "smoke_auc": result.auc,
        }
        return {"model_id": deployed["model_id"], "auc": result.auc}

    plan_doc = plan()
    job = training_job(plan_doc)
    branch = choose_training(job)
    local = train_local(plan_doc)
    sagemaker = SageMakerTrainingOperator(
        task_id="train_sagemaker",
        config=job["config"],
        aws_conn_id=AWS_CONN_ID,
        wait_for_completion=True,
        check_if_job_exists=True,
        action_if_job_exists="fail",
        deferrable=True,  # the job runs for hours: its wait belongs in the triggerer
        execution_timeout=timedelta(hours=6),
    )
    wait = SageMakerTrainingSensor(
        task_id="wait_for_training",
        job_name=job["name"],
        aws_conn_id=AWS_CONN_ID,
        mode="reschedule",
        poke_interval=60,
        timeout=6 * 3600,
    )
    reuse = EmptyOperator(task_id="reuse_training")
    branch >> [local, sagemaker, wait, reuse]
    record = register(plan_doc, job)
    [local, sagemaker, wait, reuse] >> record
    started = deploy(record)
    deployed = finish_deploy(started)
    wait_for_endpoint(started) >> deployed
    publish_detector(record, deployed) >> smoke_check(plan_doc, deployed)


lakewatch_train()
