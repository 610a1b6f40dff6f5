"""lakewatch_recalibrate: choose, check, publish and explain the nightly anomaly threshold.

Each night (and whenever ``lakewatch_train`` deploys a model) this DAG takes the previous UTC
day's pairs that the deployed model did not train on (known entities only) as the normal set,
builds abnormal sets of three kinds (random public addresses, an unused private subnet, pairs
shuffled between unrelated entities), scores all of them through the endpoint, and picks the
threshold for the target false-positive rate.

The quality gate refuses a threshold when the AUC is below the floor, the sets are too small,
or (same model) the threshold moved more than ``max_shift_iqr`` interquartile ranges from the
published one; the previous threshold then stays in SSM and the run fails saying why. Evidence
(record JSON and a PNG of the score distributions and ROC) is written for every night under
``thresholds/history/day=<night>/`` whether published or not; reruns rewrite it.

Operate: rerun a night by clearing its tasks; publish a deliberate jump with ``override``.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, Param, dag, task

from lakewatch.orchestration import recalibrate_tasks as steps
from lakewatch.orchestration import schedules
from lakewatch.orchestration.alerts import failure_notifier, late_run_alert
from lakewatch.orchestration.assets import DEPLOYED_MODEL, THRESHOLD

DEFAULT_ARGS = {
    "owner": "security-data-platform",
    "retries": 2,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": True,
}


@dag(
    dag_id="lakewatch_recalibrate",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable(schedules.RECALIBRATE, timezone="UTC"), assets=DEPLOYED_MODEL
    ),
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    on_failure_callback=failure_notifier(),
    deadline=late_run_alert("lakewatch_recalibrate", timedelta(hours=2)),
    tags=["lakewatch", "threshold", "recalibrate"],
    doc_md=__doc__,
    params={
        "target_fpr": Param(
            0.001,
            type="number",
            minimum=0,
            maximum=0.5,
            description="false-positive rate on normal pairs",
        ),
        "expected_anomaly_rate": Param(
            0.001, type="number", minimum=0, maximum=1, description="for the reported precision"
        ),
        "min_auc": Param(0.85, type="number", minimum=0.5, maximum=1),
        "max_shift_iqr": Param(1.0, type="number", minimum=0),
        "override": Param(
            False, type="boolean", description="publish even if the threshold jumped"
        ),
        "max_normal": Param(100000, type="integer", minimum=100),
        "min_normal": Param(200, type="integer", minimum=10),
    },
)
def lakewatch_recalibrate():
    @task
    def prepare_sets(*, params=None, logical_date=None, dag_run=None) -> dict:
        return steps.prepare_sets(params, logical_date, dag_run)

    @task
    def score_sets(prepared: dict, *, logical_date=None, dag_run=None) -> dict:
        return steps.score_sets(prepared, logical_date, dag_run)

    @task
    def choose_threshold(
        scored: dict, *, params=None, logical_date=None, dag_run=None, run_id=None
    ) -> dict:
        return steps.choose_threshold(scored, params, logical_date, dag_run, run_id)

    @task(outlets=[THRESHOLD])
    def publish(chosen: dict, *, logical_date=None, dag_run=None, outlet_events=None) -> dict:
        return steps.publish(logical_date, dag_run, outlet_events)

    publish(choose_threshold(score_sets(prepare_sets())))


lakewatch_recalibrate()
