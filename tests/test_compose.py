"""docker-compose.yaml: accepted by Compose where its CLI exists, and shaped as documented."""

import shutil
import subprocess

import pytest
import yaml

from tests.conftest import REPO

COMPOSE = REPO / "docker-compose.yaml"


def _compose_cli() -> list[str] | None:
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True)
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_compose_cli_accepts_the_file():
    cli = _compose_cli()
    if cli is None:
        pytest.skip("no docker compose CLI on this machine")
    for profile in ([], ["--profile", "local"]):
        proc = subprocess.run(
            [*cli, "-f", str(COMPOSE), *profile, "config", "-q"],
            capture_output=True,
            text=True,
            cwd=REPO,
        )
        assert proc.returncode == 0, proc.stderr


def test_celery_layout_and_backend_switch():
    spec = yaml.safe_load(COMPOSE.read_text())
    services = spec["services"]
    for name in (
        "postgres",
        "redis",
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
        "airflow-worker",
        "airflow-init",
        "emulator",
    ):
        assert name in services, name
    env = services["airflow-worker"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["LAKEWATCH_BACKEND"] == "${LAKEWATCH_BACKEND:-local}"
    assert "endpoint_url" in env["AIRFLOW_CONN_AWS_DEFAULT"]
    assert services["emulator"]["profiles"] == ["local"]
    # the broker asks for the password the workers' URL carries, as local/redis.py's does
    assert "--requirepass" in services["redis"]["command"]
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://:${LAKEWATCH_REDIS_PASSWORD")
    # servers publish on loopback only
    for svc in services.values():
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), port
