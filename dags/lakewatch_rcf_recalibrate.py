"""lakewatch_rcf_recalibrate: choose, gate, publish and explain the RCF model's threshold.

Each night, and whenever ``lakewatch_rcf_train`` deploys a model (the
``lakewatch_deployed_rcf_model`` Asset), the hours after the served model's training window
(the two days before the night at most) are scored through its endpoint, split by day, and
the threshold set for the target false-positive rate: the quantile rule, with mean + 3 sd
measured beside it (docs/rcf.md says why). The gate refuses too few hours, a rate clearly over
the target, or (same model) a jump of more than ``max_shift_iqr``; the previous threshold then
stays and the run fails saying why. Evidence (record and PNG) is written under
``thresholds/rcf/history/day=<night>/`` either way; the threshold goes to the SSM parameter
``<threshold_parameter>-rcf``.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, Param, dag, task

from lakewatch.orchestration import rcf_tasks as steps
from lakewatch.orchestration import schedules
from lakewatch.orchestration.alerts import failure_notifier, late_run_alert
from lakewatch.orchestration.assets import DEPLOYED_RCF_MODEL, RCF_THRESHOLD

DEFAULT_ARGS = {
    "owner": "security-data-platform",
    "retries": 2,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": True,
}


@dag(
    dag_id="lakewatch_rcf_recalibrate",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable(schedules.RCF_RECALIBRATE, timezone="UTC"),
        assets=DEPLOYED_RCF_MODEL,
    ),
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    on_failure_callback=failure_notifier(),
    deadline=late_run_alert("lakewatch_rcf_recalibrate", timedelta(hours=2)),
    tags=["lakewatch", "rcf", "threshold", "recalibrate"],
    doc_md=__doc__,
    params={
        "target_fpr": Param(0.001, type="number", minimum=0.00001, maximum=0.49),
        "override": Param(False, type="boolean", description="publish even if it jumped"),
    },
)
def lakewatch_rcf_recalibrate():
    @task
    def choose_threshold(*, params=None, logical_date=None, dag_run=None, run_id=None) -> dict:
        return steps.choose_threshold(params, logical_date, dag_run, run_id)

    @task(outlets=[RCF_THRESHOLD])
    def publish(chosen: dict, *, outlet_events=None) -> dict:
        return steps.publish(chosen, outlet_events)

    publish(choose_threshold())


lakewatch_rcf_recalibrate()
