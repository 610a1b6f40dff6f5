"""What DAG tasks share: settings from the ``lakewatch`` Variable over the environment, AWS
clients from the Amazon provider's hook (the connection decides endpoint and credentials), and
attempt ids."""

import json
import os

import pytest

from lakewatch.orchestration.runtime import attempt_id, task_clients, task_settings


def test_the_variable_overrides_the_environment(airflow_env, monkeypatch):
    settings, _ = airflow_env
    monkeypatch.setenv("LAKEWATCH_ENDPOINT_NAME", "from-the-environment")
    monkeypatch.setenv("LAKEWATCH_QUEUE_NAME", "from-the-environment")
    variable = json.loads(os.environ["AIRFLOW_VAR_LAKEWATCH"])
    monkeypatch.setenv("AIRFLOW_VAR_LAKEWATCH", json.dumps({**variable, "endpoint_name": "ep-v"}))
    got = task_settings()
    assert got.endpoint_name == "ep-v"  # the Variable wins
    assert got.queue_name == settings.queue_name  # the Variable names it too
    monkeypatch.setenv("AIRFLOW_VAR_LAKEWATCH", json.dumps(["not", "an", "object"]))
    with pytest.raises(ValueError, match="must be a JSON object of settings"):
        task_settings()


def test_clients_come_from_the_connection_and_the_runtime_from_the_router(airflow_env, clients):
    settings, resources = airflow_env
    hooked = task_clients(settings)
    buckets = {b["Name"] for b in hooked("s3").list_buckets()["Buckets"]}
    assert resources.results_bucket in buckets  # the emulator, through aws_default
    assert hooked("s3") is hooked("s3")  # one client per service
    assert hooked.endpoint_url("s3") == settings.resolved_endpoint_url
    assert hooked.endpoint_url("sagemaker-runtime") == settings.model_server_url
    assert hooked("sagemaker-runtime").meta.endpoint_url == settings.model_server_url
    assert hooked.credentials()[:2] == ("testing", "testing")


def test_attempt_ids_name_one_try_of_one_run():
    a = attempt_id("scheduled__2026-11-30T00:00:00+00:00", 1)
    assert a == attempt_id("scheduled__2026-11-30T00:00:00+00:00", 1)
    assert a.endswith("-t1") and a != attempt_id("scheduled__2026-11-30T00:00:00+00:00", 2)
    assert a.split("-")[0] != attempt_id("manual__2026-11-30", 1).split("-")[0]
