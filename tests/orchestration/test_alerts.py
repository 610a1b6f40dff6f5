"""Failed and late runs reach the alerts topic (the emulator's SNS, read from the inbox queue)."""

import asyncio
from datetime import timedelta

from airflow.sdk import DAG

from lakewatch.local.bootstrap import read_alerts
from lakewatch.orchestration.alerts import failure_notifier, late_run_alert, notify_late


def test_a_failed_run_is_announced_with_its_dag_run_and_reason(airflow_env, clients):
    settings, _ = airflow_env
    read_alerts(clients("sqs"))
    notifier = failure_notifier(settings)
    dag = DAG("lakewatch_extract", schedule=None)
    # the minimal context the DAG processor gives a DAG-level callback
    notifier({"dag": dag, "run_id": "scheduled__2026-11-30", "reason": "task_failure"})
    [alert] = read_alerts(clients("sqs"), wait_s=2)
    assert alert["subject"] == "lakewatch: lakewatch_extract failed"
    assert alert["message"].startswith(
        "lakewatch_extract run scheduled__2026-11-30 failed: task_failure."
    )


def test_a_late_run_pages_from_the_triggerer(airflow_env, clients):
    settings, _ = airflow_env
    read_alerts(clients("sqs"))
    alert = late_run_alert("lakewatch_train", timedelta(hours=8), settings)
    assert alert.reference.__class__.__name__.endswith("DagRunQueuedAtDeadline")
    assert alert.interval == timedelta(hours=8)
    kwargs = alert.callback.kwargs
    assert kwargs["topic_arn"] == settings.alerts_topic
    asyncio.run(notify_late(**kwargs, context={"dag_run": {"run_id": "scheduled__x"}}))
    [page] = read_alerts(clients("sqs"), wait_s=2)
    assert page["subject"] == "lakewatch: lakewatch_train is late"
    assert "lakewatch_train run scheduled__x has not finished 480 minutes" in page["message"]
