"""Secrets stay out of the repository, the logs and command lines; servers bind loopback."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import stat
import subprocess
import uuid
from datetime import date
from pathlib import Path

import psutil
import pytest
import yaml

from lakewatch.demo.airflow_local import LocalAirflow
from lakewatch.lake.sink import S3Store
from lakewatch.lake.synthetic import GenerateOptions
from lakewatch.lake.write import write_lake
from lakewatch.local.lambda_runtime import LambdaContext, load_handler
from lakewatch.local.processes import ProcessRegistry
from lakewatch.serving.lambda_config import APP_DIR, local_environment, scorer_config
from lakewatch.settings import Settings
from tests.conftest import REPO

SECRET_PATTERNS = {
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b"),
    "AWS secret access key": re.compile(
        r"(?i)aws.?secret.?access.?key\W{0,4}[=:]\W{0,4}[A-Za-z0-9/+]{40}\b"
    ),
    "private key": re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |PGP )?PRIVATE KEY"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36}\b"),
    "Slack token": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    "Fernet key": re.compile(r"(?i)fernet_key\W{0,4}[=:]\W{0,4}[A-Za-z0-9_-]{43}="),
}


def find_secrets(text: str) -> list[str]:
    return [name for name, pattern in SECRET_PATTERNS.items() if pattern.search(text)]


def repository_files() -> list[Path]:
    """Tracked files and untracked ones git does not ignore: what a commit could carry."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        check=True,
        capture_output=True,
    ).stdout
    return [REPO / p for p in out.decode().split("\0") if p and (REPO / p).is_file()]


def test_the_scanner_finds_what_it_looks_for():
    planted = [
        "AKIA" + "Q" * 16,
        "aws_secret_access_key = " + "a1B2" * 10,
        "-----BEGIN RSA " + "PRIVATE KEY-----",
        "ghp_" + "x" * 36,
        "AIRFLOW__CORE__FERNET_KEY: " + "k" * 43 + "=",
    ]
    assert all(find_secrets(p) for p in planted)
    assert not find_secrets("AWS_SECRET_ACCESS_KEY: ${AWS_SECRET_ACCESS_KEY:-testing}")


def test_no_secrets_in_the_repository():
    files = repository_files()
    assert len(files) > 50 and REPO / "README.md" in files
    found = {}
    for path in files:
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue  # binary
        if hits := find_secrets(text):
            found[str(path.relative_to(REPO))] = hits
    assert not found, found
    # generated state (the demo's UI password, JWT and Fernet keys) is never committable
    assert not any(".lakewatch" in p.parts or p.name == ".env" for p in files)


def test_demo_secrets_are_owner_only_and_never_in_argv(tmp_path):
    settings = Settings(state_dir=tmp_path / "state")
    airflow = LocalAirflow(settings, tmp_path / "airflow", 8280)
    (tmp_path / "airflow").mkdir()
    env = airflow.env()
    secrets = [env["AIRFLOW__API_AUTH__JWT_SECRET"], env["AIRFLOW__CORE__FERNET_KEY"]]
    for name in ("jwt_secret", "fernet_key"):
        mode = (tmp_path / "airflow" / name).stat().st_mode
        assert stat.S_IMODE(mode) == 0o600, (name, oct(mode))
    argv = json.dumps(airflow.commands())
    assert not any(s in argv for s in secrets)
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert "--skip-serve-logs" in airflow.commands()["airflow-scheduler"]


def _listening(pid: int) -> set[str]:
    procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    return {
        c.laddr.ip
        for p in procs
        for c in p.net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
    }


def test_servers_listen_on_loopback_only(stack, emulator_settings):
    settings, _ = stack
    records = [
        *ProcessRegistry(emulator_settings.run_dir).records(),
        *ProcessRegistry(settings.run_dir).records(),
    ]
    names = [r.name for r in records]
    assert "emulator" in names and "router" in names
    assert any(n.startswith("model-") for n in names)
    for record in records:
        addresses = _listening(record.pid)
        assert addresses, f"{record.name} listens nowhere"
        assert addresses <= {"127.0.0.1"}, (record.name, addresses)


def test_defaults_and_compose_publish_on_loopback():
    defaults = Settings()
    assert defaults.emulator_host == defaults.model_server_host == "127.0.0.1"
    compose = yaml.safe_load((REPO / "docker-compose.yaml").read_text())
    published = [p for svc in compose["services"].values() for p in svc.get("ports", [])]
    assert published and all(str(p).startswith("127.0.0.1:") for p in published), published


def test_handler_logs_hold_no_credentials(stack, clients, monkeypatch, capfd):
    settings, _ = stack
    secret = f"lakewatch-secret-{uuid.uuid4().hex}"
    for k, v in local_environment(settings, scorer_config(settings, clients)).items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")
    handle = load_handler(APP_DIR)
    # powertools' JSON lines, as CloudWatch would get them (its handler may hold an older
    # stream than this test's capture, so read them from a handler of our own)
    scorer_logger = logging.getLogger("lakewatch-scorer")
    lines = io.StringIO()
    ours = logging.StreamHandler(lines)
    ours.setFormatter(scorer_logger.handlers[0].formatter)
    scorer_logger.addHandler(ours)
    records = [
        {"messageId": "m0", "receiptHandle": "r", "body": "{broken", "attributes": {}},
        {"messageId": "m1", "receiptHandle": "r", "body": '{"Event": "s3:TestEvent"}'},
    ]
    try:
        handle({"Records": records}, LambdaContext("scorer", "us-east-1", "123456789012", 60))
    finally:
        scorer_logger.removeHandler(ours)
    out = capfd.readouterr()
    logged = lines.getvalue()
    assert '"message":"message sent to the DLQ"' in logged  # it did log, as JSON
    assert secret not in logged + out.out + out.err


@pytest.mark.e2e
def test_task_logs_mask_the_connection_secret(airflow_env, monkeypatch, capfd):
    from tests.dags.helpers import extract, states

    settings, _ = airflow_env
    secret = f"lakewatch-secret-{uuid.uuid4().hex}"
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_DEFAULT",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": secret,
                "extra": {
                    "endpoint_url": settings.resolved_endpoint_url,
                    "region_name": "us-east-1",
                },
            }
        ),
    )
    from lakewatch.aws.clients import Boto3Clients

    day = date(2026, 11, 1)
    write_lake(
        GenerateOptions(days=1, start=day, rows_per_day=2000, seed=3),
        S3Store(Boto3Clients(settings)("s3"), settings.lake_bucket_name),
    )
    run = extract(day)
    assert str(run.state) == "success", states(run)  # it read aws_default, secret and all
    out = capfd.readouterr()
    log_dir = Path(os.environ["AIRFLOW_HOME"]) / "logs"
    logs = "".join(p.read_text(errors="replace") for p in log_dir.rglob("*") if p.is_file())
    assert secret not in out.out + out.err + logs
