"""demo.airflow_local: the demo's Airflow is configured for one small machine and for the local
backend: the repo's DAGs and plugins, a LocalExecutor of low parallelism, PostgreSQL, the
provider's connection pointing at the emulator, secrets kept across restarts, one command
line per component with every server on loopback; the CeleryExecutor adds a password-protected
broker and two workers that name themselves in their task instances."""

import json

import pytest
from cryptography.fernet import Fernet

from lakewatch.demo.airflow_local import (
    COMPONENTS,
    WORKER_NAME_ENV,
    WORKERS,
    LocalAirflow,
    worker_hostname,
)
from lakewatch.settings import Settings
from tests.conftest import REPO


def test_the_environment_runs_the_repo_on_the_local_backend(tmp_path):
    settings = Settings(state_dir=tmp_path / "state", emulator_port=4599, model_server_port=8099)
    (tmp_path / "airflow").mkdir()
    airflow = LocalAirflow(settings, tmp_path / "airflow", 8281)
    env = airflow.env("airflow-scheduler")
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(REPO / "dags")
    assert env["AIRFLOW__CORE__PLUGINS_FOLDER"] == str(REPO / "plugins")
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert int(env["AIRFLOW__CORE__PARALLELISM"]) <= 4
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql")
    assert "airflow-scheduler" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]  # its sessions
    conn = json.loads(env["AIRFLOW_CONN_AWS_DEFAULT"])
    assert conn["extra"]["endpoint_url"] == "http://127.0.0.1:4599"
    assert env["LAKEWATCH_BACKEND"] == "local" and env["LAKEWATCH_MODEL_SERVER_PORT"] == "8099"
    assert env["AIRFLOW__API__BASE_URL"] == airflow.url == "http://127.0.0.1:8281"
    Fernet(env["AIRFLOW__CORE__FERNET_KEY"].encode())  # a valid key
    again = airflow.env()
    assert again["AIRFLOW__CORE__FERNET_KEY"] == env["AIRFLOW__CORE__FERNET_KEY"]  # kept
    assert again["AIRFLOW__API_AUTH__JWT_SECRET"] == env["AIRFLOW__API_AUTH__JWT_SECRET"]


def test_one_command_per_component_on_loopback(tmp_path):
    airflow = LocalAirflow(Settings(state_dir=tmp_path / "state"), tmp_path / "airflow", 8282)
    commands = airflow.commands()
    assert set(commands) == set(COMPONENTS)
    api = commands["airflow-api-server"]
    assert api[api.index("--host") + 1] == "127.0.0.1" and api[api.index("--port") + 1] == "8282"
    assert "triggerer" in commands["airflow-triggerer"]  # deferred tasks have somewhere to run


def test_the_celery_executor_adds_a_broker_and_two_workers_on_loopback(tmp_path):
    settings = Settings(state_dir=tmp_path / "state", postgres_port=15999, redis_port=16999)
    airflow = LocalAirflow(settings, tmp_path / "airflow", 8283, executor="celery")
    assert airflow.components == (*COMPONENTS, *WORKERS)
    env = airflow.env("airflow-scheduler")
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    password = airflow.broker.password
    assert env["AIRFLOW__CELERY__BROKER_URL"] == f"redis://:{password}@127.0.0.1:16999/0"
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql+psycopg://airflow:")
    assert "@127.0.0.1:15999/airflow" in env["AIRFLOW__CELERY__RESULT_BACKEND"]  # the same DB
    assert "AIRFLOW__CORE__HOSTNAME_CALLABLE" not in env  # only workers name themselves
    commands = airflow.commands()
    assert set(commands) == set(airflow.components)
    names = set()
    for worker in WORKERS:
        argv = commands[worker]
        assert argv[:2] == ["celery", "worker"] and "--skip-serve-logs" in argv
        assert argv[argv.index("--concurrency") + 1] == "2"
        names.add(argv[argv.index("--celery-hostname") + 1])
        assert password not in " ".join(argv)  # the broker URL travels in the environment
        worker_env = airflow.env(worker)
        callable_path = worker_env["AIRFLOW__CORE__HOSTNAME_CALLABLE"]
        assert callable_path == "lakewatch.demo.airflow_local.worker_hostname"
    assert names == {"celery-worker-1@%h", "celery-worker-2@%h"}


def test_a_worker_names_itself_in_its_task_instances_hostname(monkeypatch):
    import socket

    monkeypatch.delenv(WORKER_NAME_ENV, raising=False)
    assert worker_hostname() == socket.getfqdn()
    monkeypatch.setenv(WORKER_NAME_ENV, "celery-worker-2")
    assert worker_hostname() == f"celery-worker-2@{socket.gethostname()}"  # Celery's %h


def test_an_unknown_executor_is_refused(tmp_path):
    with pytest.raises(ValueError, match="executor must be one of"):
        LocalAirflow(Settings(state_dir=tmp_path), tmp_path / "airflow", 8284, executor="k8s")
