"""lakewatch_rcf_score: each closed UTC hour of the whole lake, scored by the Random Cut Forest.

Why beside the real-time scorer: its RCF step scores an instance-hour only when one object
holds the whole hour (a part of an hour would look quiet to the model), and a real Security
Lake object holds minutes of one account's one source, so there it scores almost nothing.
Here ``score_hour`` runs ``rcf_features.sql`` over the hour for the whole lake, VPC Flow and
Route 53, on the backend's SQL engine (DuckDB | Athena), scores the instance-hours through the
served RCF endpoint against the published RCF threshold, and writes the findings and the
incidents they open where the scorer writes its own (one file per account and hour, under
``region=/accountId=/eventDay=``; a rerun rewrites it), imported into Security Hub when the
scorer would be and alerted through the scorer's per-finding markers: a finding's uid is the
instance-hour's, so one the real-time scorer already alerted is not alerted again.

Each run scores the last hour that ended ``lag_minutes`` before its logical date (at :20, the
hour before; Security Lake writes an hour's objects within minutes), so a backfill of a range
of logical dates scores those hours; ``hour`` (``YYYY-MM-DDTHH``, UTC) scores one hour by hand.
With no RCF model served, or no threshold or profile published yet, the run is skipped.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import CronTriggerTimetable, Param, dag, task

from lakewatch.orchestration import rcf_tasks as steps
from lakewatch.orchestration import schedules
from lakewatch.orchestration.alerts import failure_notifier

DEFAULT_ARGS = {
    "owner": "security-data-platform",
    "retries": 2,
    "retry_delay": timedelta(minutes=3),
    "retry_exponential_backoff": True,
}


@dag(
    dag_id="lakewatch_rcf_score",
    schedule=CronTriggerTimetable(schedules.RCF_SCORE, timezone="UTC"),
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=2,
    default_args=DEFAULT_ARGS,
    on_failure_callback=failure_notifier(),
    tags=["lakewatch", "rcf", "scorer"],
    doc_md=__doc__,
    params={
        "lag_minutes": Param(
            15,
            type="integer",
            minimum=0,
            maximum=1440,
            description="score the last hour that ended at least this long before the run",
        ),
        "hour": Param(
            "",
            type="string",
            description="an hour to score instead (YYYY-MM-DDTHH, UTC); empty: the closed one",
        ),
    },
)
def lakewatch_rcf_score():
    @task(execution_timeout=timedelta(minutes=30))
    def score_hour(*, params=None, logical_date=None, dag_run=None) -> dict:
        return steps.score_hour(params, logical_date, dag_run)

    score_hour()


lakewatch_rcf_score()
