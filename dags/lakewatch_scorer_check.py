"""lakewatch_scorer_check: hourly proof that the real-time scorer works end to end.

``canary`` writes a VPC Flow object (under ``canary/`` in the results bucket, never the lake)
with one flow the model finds normal and one it finds anomalous, announces it on the
subscriber queue like Security Lake does, and waits for exactly the expected finding. It only
sends to the queue; it never consumes real messages. ``queue_health`` fails when the
dead-letter queue holds messages (beyond ``max_dlq_messages``) or the event source mapping
(local: the runtime process) is not running.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import CronTriggerTimetable, Param, dag, task

from lakewatch.orchestration import schedules
from lakewatch.orchestration import scorer_check_tasks as steps
from lakewatch.orchestration.alerts import failure_notifier

DEFAULT_ARGS = {
    "owner": "security-data-platform",
    "retries": 1,
    "retry_delay": timedelta(minutes=2),
}


@dag(
    dag_id="lakewatch_scorer_check",
    schedule=CronTriggerTimetable(schedules.SCORER_CHECK, timezone="UTC"),
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    on_failure_callback=failure_notifier(),
    tags=["lakewatch", "scorer", "check"],
    doc_md=__doc__,
    params={
        "timeout_s": Param(
            300,
            type="integer",
            minimum=10,
            description="how long to wait for the canary's findings",
        ),
        "max_dlq_messages": Param(0, type="integer", minimum=0),
    },
)
def lakewatch_scorer_check():
    @task(execution_timeout=timedelta(minutes=15))
    def canary(*, params=None, run_id=None) -> dict:
        return steps.canary(params, run_id)

    @task
    def queue_health(*, params=None) -> dict:
        return steps.queue_health(params)

    canary()
    queue_health()


lakewatch_scorer_check()
