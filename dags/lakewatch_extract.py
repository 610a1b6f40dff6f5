"""lakewatch_extract: one day of Security Lake as (entity, address) pairs for IP Insights.

Each run extracts its data interval (one UTC day) with the pair views' Athena SQL (DuckDB on
the local backend; on aws each query defers to the triggerer while Athena runs it, and the
task's rendered template shows the SQL), writes headerless ``entity,ip`` CSV with a held-out
validation tenth, and
publishes the day's manifest under keys derived from the interval: rerunning a day rewrites the
same objects. Counts, entities and dropped rows (and why) go to the task log and to the
``lakewatch_training_pairs`` Asset event, which triggers training.

Operate: backfill history from the UI ("Trigger DAG w/ config" -> backfill) or
``airflow backfill create --dag-id lakewatch_extract --from-date 2026-11-01 --to-date
2026-11-07``; rerun one day by clearing its ``extract_pairs`` task.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import CronDataIntervalTimetable, Param, dag

from lakewatch.extract.views import VIEWS
from lakewatch.orchestration import schedules
from lakewatch.orchestration.alerts import failure_notifier, late_run_alert
from lakewatch.orchestration.assets import TRAINING_PAIRS
from lakewatch.orchestration.extract_operator import ExtractDayOperator

DEFAULT_ARGS = {
    "owner": "security-data-platform",
    "retries": 3,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=30),
}


@dag(
    dag_id="lakewatch_extract",
    schedule=CronDataIntervalTimetable(schedules.EXTRACT, timezone="UTC"),
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=4,
    default_args=DEFAULT_ARGS,
    on_failure_callback=failure_notifier(),
    deadline=late_run_alert("lakewatch_extract", timedelta(hours=2)),
    tags=["lakewatch", "security-lake", "extract"],
    doc_md=__doc__,
    params={
        "views": Param(
            [],
            type="array",
            items={"type": "string", "enum": list(VIEWS)},
            description="pair views to extract (include/sql/views/); empty: the "
            "deployment's, LAKEWATCH_PAIR_VIEWS (unset: egress_peer, ingress_peer, dns_answer)",
        ),
        "include_ipv6": Param(
            False,
            type="boolean",
            description="keep IPv6 pairs (lakewatch's model takes them; "
            "SageMaker's built-in algorithm does not)",
        ),
    },
)
def lakewatch_extract():
    # one task on both backends: DuckDB in the worker on local; on aws three Athena queries,
    # each deferred to the triggerer while it runs (its SQL is the task's rendered template)
    ExtractDayOperator(
        task_id="extract_pairs",
        outlets=[TRAINING_PAIRS],
        execution_timeout=timedelta(hours=2),
    )


lakewatch_extract()
