"""lakewatch_rcf_train: train the Random Cut Forest on the trailing window's instance-hours and
deploy it on its own endpoint.

Runs daily and whenever the extract lands a day (the ``lakewatch_training_pairs`` Asset: the
day's lake is complete). The same shape as ``lakewatch_train``:

1. ``plan``: ``rcf_features.sql`` over the window's days (DuckDB on ``local``, Athena on
   ``aws``), the rows standardized into ``train.csv`` and the feature profile
   (``features.json``) under the model's training folder. Too few instance-hours skip the run.
2. training: ``local`` trains lakewatch's RCF in the worker; ``aws`` runs SageMaker's built-in
   Random Cut Forest (``SageMakerTrainingOperator``: ``text/csv;label_size=0``,
   ``ShardedByS3Key``), or waits for / reuses the job a previous try started.
3. ``register``, then ``deploy`` / ``wait_for_endpoint`` / ``finish_deploy`` onto the RCF
   endpoint (``rcf_endpoint_name``, else ``lakewatch-rcf``; create or update, rolled back on
   failure) and ``smoke_check``: the endpoint must score far-off rows above training rows, or
   the previous model goes back and the run fails. Success updates the
   ``lakewatch_deployed_rcf_model`` Asset (its recalibration and the scorer's redeploy).
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, Param, dag, task

from lakewatch.orchestration import rcf_tasks as steps
from lakewatch.orchestration import schedules
from lakewatch.orchestration import train_tasks as shared
from lakewatch.orchestration.alerts import failure_notifier, late_run_alert
from lakewatch.orchestration.assets import DEPLOYED_RCF_MODEL, TRAINING_PAIRS
from lakewatch.orchestration.runtime import MACROS

POOL = "lakewatch_endpoint"
DEFAULT_ARGS = {
    "owner": "security-data-platform",
    "retries": 2,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": True,
}


@dag(
    dag_id="lakewatch_rcf_train",
    # no start_date: unpaused the first time, it waits for its next time or new extracts
    # (schedules.py says why); trigger the first training once the extracts are in
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable(
            schedules.RCF_TRAIN, timezone="UTC", run_immediately=schedules.FIRST_RUN
        ),
        assets=TRAINING_PAIRS,
    ),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    on_failure_callback=failure_notifier(),
    deadline=late_run_alert("lakewatch_rcf_train", timedelta(hours=8)),
    tags=["lakewatch", "rcf", "train", "deploy"],
    doc_md=__doc__,
    user_defined_macros=MACROS,
    params={
        "window_days": Param(7, type="integer", minimum=1, maximum=90),
        "min_train_hours": Param(
            500, type="integer", minimum=1, description="fewer instance-hours skip the run"
        ),
        "num_trees": Param(100, type="integer", minimum=50, maximum=1000),
        "num_samples_per_tree": Param(256, type="integer", minimum=1, maximum=2048),
        "smoke_min_auc": Param(0.9, type="number", minimum=0.5, maximum=1.0),
    },
)
def lakewatch_rcf_train():
    @task
    def plan(*, params=None, logical_date=None, dag_run=None) -> dict:
        return steps.plan(params, logical_date, dag_run)

    @task
    def training_job(plan_doc: dict) -> dict:
        return shared.training_job(plan_doc)

    @task.branch
    def choose_training(job: dict) -> str:
        return shared.choose_training(job)

    @task
    def train_local(plan_doc: dict) -> dict:
        return steps.train_local(plan_doc)

    @task(trigger_rule="none_failed_min_one_success")
    def register(plan_doc: dict, job: dict, *, ti=None) -> dict:
        return steps.register(plan_doc, job, ti)

    @task(pool=POOL, execution_timeout=timedelta(minutes=30))
    def deploy(record_doc: dict) -> dict:
        return shared.deploy(record_doc)

    @task.sensor(pool=POOL, poke_interval=30, timeout=2 * 3600, mode="reschedule")
    def wait_for_endpoint(started: dict):
        return shared.endpoint_settled(started)

    @task(pool=POOL)
    def finish_deploy(started: dict) -> dict:
        return shared.finish_deploy(started)

    @task(pool=POOL, outlets=[DEPLOYED_RCF_MODEL])
    def smoke_check(plan_doc: dict, deployed: dict, *, params=None, outlet_events=None) -> dict:
        return steps.smoke_check(plan_doc, deployed, params, outlet_events)

    plan_doc = plan()
    job = training_job(plan_doc)
    branch = choose_training(job)
    local = train_local(plan_doc)
    trainings = [local, *shared.sagemaker_paths(job)]
    branch >> trainings
    record = register(plan_doc, job)
    trainings >> record
    started = deploy(record)
    deployed = finish_deploy(started)
    wait_for_endpoint(started) >> deployed
    smoke_check(plan_doc, deployed)


lakewatch_rcf_train()
