"""demo.airflow_local: the demo's Airflow is configured for one small machine and for the local
backend: the repo's DAGs and plugins, a LocalExecutor of low parallelism, PostgreSQL, the
provider's connection pointing at the emulator, secrets kept across restarts, one command
line per component with every server on loopback."""

import json

from cryptography.fernet import Fernet

from lakewatch.demo.airflow_local import COMPONENTS, LocalAirflow
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
