"""demo.airflow_local on the CeleryExecutor, for real: Redis, two Celery workers and the same
PostgreSQL; a backfill of ``lakewatch_extract`` succeeds and both workers ran its tasks (each
names itself in the hostname its task instances record); ``make down`` leaves nothing behind.

The workers run one task at a time here (two in the demo), so four runs in flight cannot all
land on one worker.
"""

import shutil
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import psutil
import pytest

from lakewatch.demo.airflow_local import USER, WORKERS, LocalAirflow
from lakewatch.demo.api import AirflowAPI
from lakewatch.demo.run import Step, _reset, _write_quiet_days
from lakewatch.demo.supervise import Supervisor
from lakewatch.lake.sink import S3Store
from lakewatch.local.postgres import free_port
from lakewatch.settings import Settings
from tests.conftest import REPO

DAYS = 4


def _of_this_test(proc: psutil.Process, state: str) -> bool:
    try:
        env = proc.environ()
        argv = " ".join(proc.cmdline())
    except (psutil.Error, OSError):
        return False
    return env.get("LAKEWATCH_STATE_DIR") == state or state in argv


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed")
@pytest.mark.timeout(600)
def test_a_backfill_on_the_celery_executor_runs_on_both_workers(tmp_path, capsys):
    state = (tmp_path / "state").resolve()
    settings = Settings(
        state_dir=state,
        emulator_port=free_port(),
        model_server_port=free_port(),
        postgres_port=free_port(),
        redis_port=free_port(),
    )
    registry, clients, resources = _reset(settings, Step(1))
    try:
        today = datetime.now(UTC).date()
        start = today - timedelta(days=DAYS)
        lake = S3Store(clients("s3"), resources.lake_bucket)
        _write_quiet_days(settings, lake, start, DAYS, 4_000, 7, 0.0)

        airflow = LocalAirflow(
            settings, state / "airflow", free_port(), executor="celery", worker_concurrency=1
        )
        airflow.init()
        supervisor = Supervisor(registry)  # any process dying fails the test, naming it
        airflow.start(supervisor=supervisor)
        assert {r.name for r in registry.records()} >= {"redis", "postgres", *WORKERS}
        api = AirflowAPI(airflow.url, USER, airflow.password)
        api.wait_for_dags(["lakewatch_extract"], supervisor=supervisor)

        api.backfill("lakewatch_extract", start, today - timedelta(days=1), max_active_runs=4)
        api.unpause("lakewatch_extract")  # after: every run is the backfill's (demo.run)
        runs = api.wait_for_runs("lakewatch_extract", DAYS, timeout=420, supervisor=supervisor)
        assert [r["state"] for r in runs] == ["success"] * DAYS, runs

        instances = [ti for r in runs for ti in api.task_instances(r["dag_id"], r["dag_run_id"])]
        assert len(instances) == DAYS
        host = socket.gethostname()  # the workers' Celery node names
        ran_on = {ti["hostname"] for ti in instances}
        assert ran_on == {f"celery-worker-1@{host}", f"celery-worker-2@{host}"}, instances
        assert {ti["state"] for ti in instances} == {"success"}

        # Celery kept its results in the metadata database, not in Redis
        with airflow.database._connect("airflow") as conn:
            (kept,) = conn.execute("SELECT count(*) FROM celery_taskmeta").fetchone()
        assert kept >= DAYS
        # the broker's password reaches the workers through the environment only
        password = airflow.broker.password
        for record in registry.records():
            proc = psutil.Process(record.pid)
            for p in [proc, *proc.children(recursive=True)]:
                try:
                    assert password not in " ".join(p.cmdline()), record.name
                except psutil.NoSuchProcess:
                    continue
    finally:
        down = subprocess.run(
            [sys.executable, "-m", "lakewatch", "local", "down"],
            cwd=REPO,
            env={"PATH": "/usr/bin:/bin", "LAKEWATCH_STATE_DIR": str(state)},
            capture_output=True,
            text=True,
            check=False,
        )
    assert down.returncode == 0, down.stdout + down.stderr
    left = [p.pid for p in psutil.process_iter() if _of_this_test(p, str(state))]
    assert not left, f"make down left processes running: {left}"
