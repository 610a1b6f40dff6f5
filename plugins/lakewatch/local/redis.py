"""A Redis server for local Airflow's CeleryExecutor (``lakewatch demo --executor celery``): the
broker that carries task messages from the scheduler to the Celery workers.

Debian's ``redis-server`` (``make setup`` installs it, as it does chromium), started from a
generated configuration file under ``<state_dir>/redis``: listening on 127.0.0.1 only with
protected mode on, a generated password (``requirepass``) kept with the configuration in
files only their owner can read and handed to Airflow through the environment (the broker
URL), never on a command line. A broker's queue lives only as long as its demo, so nothing is
persisted (no snapshots, no append-only file). The server is one of lakewatch's registered
processes, so ``make down`` stops it; it is ready once it answers PING with the password.
"""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

from lakewatch.local.owner_files import write_owner_only
from lakewatch.local.processes import ProcessRegistry, listening, wait_until_ready

NAME = "redis"
DATABASE = 0  # Celery's broker database


def server_binary() -> str:
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError(
            "redis-server is not installed (the CeleryExecutor's broker): run make setup, "
            "which installs Debian's redis-server"
        )
    return found


class LocalRedis:
    def __init__(self, state_dir: Path, port: int, registry: ProcessRegistry):
        self.root = Path(state_dir).resolve() / "redis"
        self.port = port
        self.registry = registry

    @property
    def password(self) -> str:
        path = self.root / "password"
        if not path.exists():
            write_owner_only(path, secrets.token_urlsafe(24))
        return path.read_text().strip()

    @property
    def config_file(self) -> Path:
        return self.root / "redis.conf"

    def url(self) -> str:
        """The broker URL for Celery (it holds the password: pass it in the environment)."""
        return f"redis://:{self.password}@127.0.0.1:{self.port}/{DATABASE}"

    def config(self) -> str:
        return "\n".join(
            [
                "bind 127.0.0.1",
                "protected-mode yes",
                f"port {self.port}",
                f"requirepass {self.password}",
                f'dir "{self.root}"',
                'logfile ""',  # stdout: the process registry's log
                "daemonize no",
                'save ""',  # a demo's queue is not worth keeping
                "appendonly no",
                "",
            ]
        )

    def start(self, timeout: float = 30.0) -> None:
        """Start (or find running) the server; returns once it answers PING with the password."""
        record = self.registry.running(NAME)
        if record is None:
            write_owner_only(self.config_file, self.config())
            record = self.registry.start(
                NAME, [server_binary(), str(self.config_file)], cwd=self.root
            )
        wait_until_ready(record, self.ping, timeout, "Redis")

    def client(self, password: str | None = None):
        """A client (``password`` None: the server's own) that does not retry: redis-py's
        default retries a connection error (a refused password among them) 10 times with
        backoff, 4 s before a wrong password was said; callers that wait poll ``ping``."""
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        return redis.Redis(
            host="127.0.0.1",
            port=self.port,
            password=self.password if password is None else password or None,
            db=DATABASE,
            socket_connect_timeout=2,
            socket_timeout=5,
            retry=Retry(NoBackoff(), 0),
        )

    def ping(self) -> bool:
        if not listening(self.port):
            return False
        import redis

        try:
            client = self.client()
            try:
                return bool(client.ping())
            finally:
                client.close()
        except redis.RedisError:  # loading, or a different server on this port
            return False
