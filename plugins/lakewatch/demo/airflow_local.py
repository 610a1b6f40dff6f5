"""A real Airflow 3 on this machine: API server, scheduler, DAG processor and triggerer, each
its own process (LocalExecutor, parallelism 4) on a PostgreSQL metadata database
(``local.postgres``: the embedded server lakewatch starts), configured from the project's
files and registered with lakewatch so ``make down`` stops them. Secrets (the UI password,
the database password, the JWT and Fernet keys) are generated per demo into files readable
only by their owner and reach Airflow through the environment, never argv.

``executor="celery"`` runs the CeleryExecutor instead, the layout of docker-compose.yaml on one
machine: a Redis broker (``local.redis``, loopback only, its password in the broker URL, which
travels in the environment), Celery's results in the same PostgreSQL, and two Celery workers
of two task slots each (the same parallelism of 4). Each worker names itself in the hostname
its task instances record (``celery-worker-1@<host>``), so the UI says which worker ran what.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from lakewatch.demo.supervise import Supervisor, wait
from lakewatch.local.owner_files import secret
from lakewatch.local.postgres import LocalPostgres
from lakewatch.local.processes import ProcessRegistry
from lakewatch.local.redis import LocalRedis
from lakewatch.settings import Settings

REPO = Path(__file__).resolve().parents[3]
COMPONENTS = (
    "airflow-api-server",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
)
WORKERS = ("airflow-celery-worker-1", "airflow-celery-worker-2")
EXECUTORS = {"local": "LocalExecutor", "celery": "CeleryExecutor"}
WORKER_CONCURRENCY = 2  # two workers of two slots: the LocalExecutor's parallelism of 4
USER = "admin"
WORKER_NAME_ENV = "LAKEWATCH_CELERY_WORKER"


def worker_hostname() -> str:
    """Airflow's ``[core] hostname_callable`` in a Celery worker: the worker's Celery node name
    (``<worker>@<host>``, as ``celery inspect`` shows it), recorded on each task instance it
    runs; elsewhere Airflow's default (the host's fully qualified name)."""
    name = os.environ.get(WORKER_NAME_ENV)
    return f"{name}@{socket.gethostname()}" if name else socket.getfqdn()


def _worker_name(component: str) -> str:
    return component.removeprefix("airflow-")


class LocalAirflow:
    def __init__(
        self,
        settings: Settings,
        home: Path,
        port: int,
        executor: str = "local",
        worker_concurrency: int = WORKER_CONCURRENCY,
    ):
        if executor not in EXECUTORS:
            raise ValueError(f"executor must be one of {sorted(EXECUTORS)}, not {executor!r}")
        self.settings = settings
        self.home = home.resolve()
        self.port = port
        self.executor = executor
        self.worker_concurrency = worker_concurrency  # task slots per Celery worker
        self.processes = ProcessRegistry(settings.run_dir)
        self.database = LocalPostgres(settings.state_dir, settings.postgres_port, self.processes)
        self.broker = (
            LocalRedis(settings.state_dir, settings.redis_port, self.processes)
            if executor == "celery"
            else None
        )

    @property
    def components(self) -> tuple[str, ...]:
        """The processes this Airflow runs (the Celery workers with the CeleryExecutor)."""
        return COMPONENTS + (WORKERS if self.broker else ())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def password(self) -> str:
        return json.loads((self.home / "passwords.json").read_text())[USER]

    def env(self, component: str | None = None) -> dict[str, str]:
        """The environment of Airflow's processes; ``component`` names its database sessions."""
        jwt = secret(self.home / "jwt_secret", lambda: secrets.token_urlsafe(32))
        fernet = secret(self.home / "fernet_key", _fernet)
        s = self.settings
        return {
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": EXECUTORS[self.executor],
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "4",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__FERNET_KEY": fernet,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple."
            "simple_auth_manager.SimpleAuthManager",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.home / "passwords.json"),
            "AIRFLOW__API_AUTH__JWT_SECRET": jwt,
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.database.url(application=component),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": self.database.url(
                "psycopg_async", application=component
            ),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "20",
            # each file re-parsed every 2 minutes, not 30 s: a parse imports the backends
            # (pyarrow, numba), 4.4 CPU-s for the eight files, a sixth of a core at 30 s
            # (CHANGELOG, fifth session); a new file is still seen within the refresh interval
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "120",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            # a worker lost with its scheduler is noticed in a minute, not five: on one
            # machine a task's heartbeat never takes that long
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "60",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.home / "logs"),
            # the local backend: aws_default reaches the emulator (the provider's endpoint_url)
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(
                {
                    "conn_type": "aws",
                    "login": "testing",
                    "password": "testing",
                    "extra": {"endpoint_url": s.resolved_endpoint_url, "region_name": s.region},
                }
            ),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": s.region,
            "LAKEWATCH_BACKEND": "local",
            "LAKEWATCH_STATE_DIR": str(s.state_dir.resolve()),
            "LAKEWATCH_EMULATOR_PORT": str(s.emulator_port),
            "LAKEWATCH_MODEL_SERVER_PORT": str(s.model_server_port),
            "LAKEWATCH_PAIR_VIEWS": s.pair_views,
            "LAKEWATCH_STEP_UP_EVENT_BUS": s.step_up_event_bus,
            "LAKEWATCH_RCF_ENDPOINT_NAME": s.rcf_endpoint_name,
            "LAKEWATCH_SQL_DIR": str(REPO / "include" / "sql"),
            "PYTHONPATH": str(REPO / "plugins"),
            **self._celery_env(component),
        }

    def _celery_env(self, component: str | None) -> dict[str, str]:
        """The CeleryExecutor's settings: the broker (its URL holds the password), results in
        the metadata database, and in a worker the name its task instances record."""
        if self.broker is None:
            return {}
        env = {
            "AIRFLOW__CELERY__BROKER_URL": self.broker.url(),
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + self.database.url(application=component),
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.worker_concurrency),
            # Celery's default, said out loud (a task running longer would be redelivered)
            "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "86400",
        }
        if component in WORKERS:
            env[WORKER_NAME_ENV] = _worker_name(component)
            env["AIRFLOW__CORE__HOSTNAME_CALLABLE"] = f"{__name__}.worker_hostname"
        return env

    def _cli(self, *args: str) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "airflow", *args],
            check=False,
            env={**os.environ, **self.env()},
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-25:])
            raise RuntimeError(f"airflow {' '.join(args)} failed ({result.returncode}):\n{tail}")

    def init(self, fresh: bool = True) -> None:
        """The metadata database (PostgreSQL; ``fresh``: emptied first), the broker (with the
        CeleryExecutor), the endpoint pool, the UI login."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.database.start()
        if self.broker is not None:
            self.broker.start()
        if fresh:
            self.database.reset()
        secret(self.home / "passwords.json", lambda: json.dumps({USER: secrets.token_urlsafe(12)}))
        self._cli("db", "migrate")
        self._cli(
            "pools",
            "set",
            "--include-deferred",  # a deferred deploy or training still holds its slot
            "lakewatch_endpoint",
            "1",
            "only one deploy touches the endpoint at a time",
        )

    def commands(self) -> dict[str, list[str]]:
        """Each component's command line (secrets travel in the environment, never in argv,
        which every user of the machine can read)."""
        commands = {
            "airflow-api-server": [
                "api-server",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                "1",
            ],
            # task logs stay on this disk for the API server to read; the log server would
            # listen on every interface
            "airflow-scheduler": ["scheduler", "--skip-serve-logs"],
            "airflow-dag-processor": ["dag-processor"],
            # runs deferrable tasks' triggers, and makes the UI's health panel whole
            "airflow-triggerer": ["triggerer", "--skip-serve-logs"],
        }
        for worker in WORKERS if self.broker else ():
            commands[worker] = [
                "celery",
                "worker",
                "--celery-hostname",
                f"{_worker_name(worker)}@%h",
                "--concurrency",
                str(self.worker_concurrency),
                # task logs stay on this disk; the log server would listen on every interface
                "--skip-serve-logs",
            ]
        return commands

    def start(self, timeout: float = 180.0, supervisor: Supervisor | None = None) -> None:
        """Start every component; return once the API server answers (a component dying
        meanwhile is the supervisor's to report)."""
        for name in self.components:
            if not self.processes.running(name):
                self.start_component(name)
        wait(
            "the Airflow API server starting",
            lambda: (self._healthy(), "not answering yet", None),
            timeout,
            supervisor,
            interval=1.0,
        )

    def start_component(self, name: str) -> None:
        """Start one component (also how the supervisor restarts a dead scheduler: the dead
        one's record is retired, so its workers may finish their tasks; ``make down`` stops
        them)."""
        if self.processes.get(name) and not self.processes.running(name):
            self.processes.retire(name)
            self.database.end_sessions(name)  # the dead one's locks (see end_sessions)
        else:
            self.processes.stop(name)
        self.processes.start(
            name,
            [sys.executable, "-m", "airflow", *self.commands()[name]],
            env=self.env(name),
            cwd=self.home,
        )

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/api/v2/monitor/health", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False


def _fernet() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()
