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
nothing and running ``lakewatch model rollback`` (docs/operate.md).
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, Param, dag, task

from lakewatch.extract.views import VIEWS
from lakewatch.orchestration import schedules
from lakewatch.orchestration import train_tasks as steps
from lakewatch.orchestration.alerts import failure_notifier, late_run_alert
from lakewatch.orchestration.assets import DEPLOYED_MODEL, TRAINING_PAIRS
from lakewatch.orchestration.runtime import MACROS

POOL = "lakewatch_endpoint"
DEFAULT_ARGS = {
    "owner": "security-data-platform",
    "retries": 2,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": True,
}


@dag(
    dag_id="lakewatch_train",
    # no start_date: unpaused the first time, it waits for its next time or new extracts
    # (schedules.py says why); trigger the first training once the extracts are in
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable(
            schedules.TRAIN, timezone="UTC", run_immediately=schedules.FIRST_RUN
        ),
        assets=TRAINING_PAIRS,
    ),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    on_failure_callback=failure_notifier(),
    deadline=late_run_alert("lakewatch_train", timedelta(hours=8)),
    tags=["lakewatch", "ipinsights", "train", "deploy"],
    doc_md=__doc__,
    user_defined_macros=MACROS,  # AWS_CONN_ID: the connection resolved when the task runs
    params={
        "window_days": Param(
            7, type="integer", minimum=1, maximum=90, description="days of extracts to train on"
        ),
        "min_train_rows": Param(
            1000, type="integer", minimum=1, description="fewer training pairs end the run cleanly"
        ),
        "views": Param(
            [],
            type="array",
            items={"type": "string", "enum": list(VIEWS)},
            description="must match the extracts' views; empty: the deployment's, "
            "LAKEWATCH_PAIR_VIEWS (unset: egress_peer, ingress_peer, dns_answer)",
        ),
        "include_ipv6": Param(False, type="boolean"),
        "algorithm": Param(
            "lakewatch",
            enum=["lakewatch", "builtin"],
            description="aws backend: SageMaker's built-in ipinsights or "
            "lakewatch's trainer in script mode",
        ),
        "smoke_min_auc": Param(0.8, type="number", minimum=0.5, maximum=1.0),
        **steps.hyperparameter_params(),
    },
)
def lakewatch_train():
    @task
    def plan(*, params=None, logical_date=None, dag_run=None) -> dict:
        return steps.plan(params, logical_date, dag_run)

    @task
    def training_job(plan_doc: dict) -> dict:
        return steps.training_job(plan_doc)

    @task.branch
    def choose_training(job: dict) -> str:
        return steps.choose_training(job)

    @task
    def train_local(plan_doc: dict) -> dict:
        return steps.train_local(plan_doc)

    @task(trigger_rule="none_failed_min_one_success")
    def register(plan_doc: dict, job: dict, *, ti=None) -> dict:
        return steps.register(plan_doc, job, ti)

    @task(pool=POOL, execution_timeout=timedelta(minutes=30))
    def deploy(record_doc: dict) -> dict:
        return steps.deploy(record_doc)

    # SageMaker takes minutes to bring an endpoint into service: wait without a worker slot
    @task.sensor(pool=POOL, poke_interval=30, timeout=2 * 3600, mode="reschedule")
    def wait_for_endpoint(started: dict):
        return steps.endpoint_settled(started)

    @task(pool=POOL)
    def finish_deploy(started: dict) -> dict:
        return steps.finish_deploy(started)

    @task(pool=POOL)
    def publish_detector(record_doc: dict, deployed: dict) -> dict:
        return steps.publish_detector(record_doc, deployed)

    @task(pool=POOL, outlets=[DEPLOYED_MODEL])
    def smoke_check(plan_doc: dict, deployed: dict, *, params=None, outlet_events=None) -> dict:
        return steps.smoke_check(plan_doc, deployed, params, outlet_events)

    plan_doc = plan()
    job = training_job(plan_doc)
    branch = choose_training(job)
    local = train_local(plan_doc)
    trainings = [local, *steps.sagemaker_paths(job)]
    branch >> trainings
    record = register(plan_doc, job)
    trainings >> record
    started = deploy(record)
    deployed = finish_deploy(started)
    wait_for_endpoint(started) >> deployed
    publish_detector(record, deployed) >> smoke_check(plan_doc, deployed)


lakewatch_train()
