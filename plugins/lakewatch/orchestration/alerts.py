"""Who hears about a failed or late run: one SNS topic (``settings.alerts_topic``).

Failures go through the Amazon provider's ``SnsNotifier`` as each DAG's failure callback, once
per failed run (not per retry). Late nightly runs page through Airflow's deadline alerts, whose
callbacks run in the triggerer. Both reach SNS through the Airflow AWS connection, so on the
``local`` backend the same call lands in the emulator's topic (the demo reads it from a queue
subscribed there, as on-call's e-mail or pager subscription would on AWS).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from airflow.providers.amazon.aws.notifications.sns import SnsNotifier
from airflow.sdk.definitions.deadline import AsyncCallback, DeadlineAlert, DeadlineReference
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from lakewatch.settings import Settings

SUBJECT = "lakewatch: {{ dag.dag_id }} failed"
MESSAGE = (
    "{{ dag.dag_id }} run {{ run_id }} failed"
    "{% if ti is defined %} (last task: {{ ti.task_id }}){% endif %}: {{ reason }}. "
    "Find the failed task in the Airflow UI; clear it to rerun once the cause is fixed "
    "(docs/operate.md)."
)


class RunFailedNotifier(SnsNotifier):
    """The provider's ``SnsNotifier``, rendering its message even where the context's DAG is
    the serialized one (``dag.test()`` in Airflow 3.3 passes that, which has no template
    environment): the same text, from a sandboxed environment."""

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        if jinja_env is None and not hasattr(context.get("dag"), "get_template_env"):
            jinja_env = SandboxedEnvironment(undefined=StrictUndefined)
        super().render_template_fields(context, jinja_env)


def failure_notifier(settings: Settings | None = None) -> RunFailedNotifier:
    """The DAG-level ``on_failure_callback`` every lakewatch DAG uses."""
    settings = settings or Settings()
    return RunFailedNotifier(
        aws_conn_id=settings.aws_conn_id,
        target_arn=settings.alerts_topic,
        region_name=settings.region,
        subject=SUBJECT,
        message=MESSAGE,
        message_attributes={"lakewatch.alert": "failed_run"},
    )


def late_run_alert(
    dag_id: str, within: timedelta, settings: Settings | None = None
) -> DeadlineAlert:
    """A deadline: the run has not finished ``within`` after it was queued.

    Counted from the queue time, not the logical date, so a backfill of old days does not page.
    """
    settings = settings or Settings()
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=within,
        callback=AsyncCallback(
            notify_late,
            kwargs={
                "dag_id": dag_id,
                "within_s": int(within.total_seconds()),
                "topic_arn": settings.alerts_topic,
                "aws_conn_id": settings.aws_conn_id,
                "region": settings.region,
            },
        ),
    )


def late_message(dag_id: str, within_s: int, context: dict[str, Any] | None = None) -> str:
    run = ""
    if context:
        dag_run = context.get("dag_run") or {}
        run_id = getattr(dag_run, "run_id", None) or (
            dag_run.get("run_id") if isinstance(dag_run, dict) else None
        )
        run = f" run {run_id}" if run_id else ""
    return (
        f"{dag_id}{run} has not finished {within_s // 60} minutes after it was queued. "
        "Check it in the Airflow UI: a stuck task, a full pool, a slow query or training job."
    )


async def notify_late(
    *,
    dag_id: str,
    within_s: int,
    topic_arn: str,
    aws_conn_id: str,
    region: str,
    context: dict[str, Any] | None = None,
) -> None:
    """The deadline callback (runs in the triggerer): the notifier's blocking publish, off the
    event loop."""
    notifier = SnsNotifier(
        aws_conn_id=aws_conn_id,
        target_arn=topic_arn,
        region_name=region,
        subject=f"lakewatch: {dag_id} is late",
        message=late_message(dag_id, within_s, context),
        message_attributes={"lakewatch.alert": "late_run"},
    )
    await asyncio.to_thread(notifier.notify, context or {})
