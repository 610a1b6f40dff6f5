"""The embedded PostgreSQL for local Airflow: loopback only, password out of argv, stoppable."""

import contextlib
import os
import socket
from pathlib import Path

import psutil
import pytest

from lakewatch.local.postgres import NAME, LocalPostgres, free_port
from lakewatch.local.processes import ProcessRegistry


@pytest.fixture
def pg(tmp_path):
    registry = ProcessRegistry(tmp_path / "run")
    server = LocalPostgres(tmp_path, free_port(), registry)
    server.start()
    yield server, registry
    registry.stop_all()


def test_starts_accepts_the_generated_password_and_nothing_else(pg):
    import psycopg

    server, _ = pg
    with server._connect("airflow") as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0] == "airflow"
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(
            host="127.0.0.1", port=server.port, user="airflow", password="wrong", dbname="airflow"
        )
    assert server.url().startswith("postgresql+psycopg://airflow:")


def test_listens_on_loopback_only_with_data_under_the_state_dir(pg, tmp_path):
    server, registry = pg
    record = registry.get(NAME)
    proc = psutil.Process(record.pid)
    listening = {  # the postmaster holds the listening sockets
        c.laddr.ip for c in proc.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN
    }
    assert listening == {"127.0.0.1"}
    assert str(server.data).startswith(str(tmp_path))
    assert oct((server.root / "password").stat().st_mode & 0o777) == "0o600"


def test_the_password_is_never_on_a_command_line_or_in_the_log(pg):
    server, registry = pg
    record = registry.get(NAME)
    password = server.password
    for p in [psutil.Process(record.pid), *psutil.Process(record.pid).children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):  # a backend that just ended
            assert password not in " ".join(p.cmdline())
    assert password not in Path(record.log).read_text()


def test_make_down_stops_it_and_a_restart_keeps_the_data(pg):
    server, registry = pg
    with server._connect("airflow") as conn:
        conn.execute("CREATE TABLE kept (x int)")
    assert registry.stop_all() == [NAME]
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
    server.start()
    with server._connect("airflow") as conn:
        assert conn.execute("SELECT count(*) FROM kept").fetchone()[0] == 0
    server.reset()  # a fresh demo: the Airflow database emptied, the server kept
    with server._connect("airflow") as conn:
        assert conn.execute("SELECT to_regclass('kept')").fetchone()[0] is None


@pytest.mark.skipif(os.geteuid() != 0, reason="only root needs the unprivileged server user")
def test_as_root_the_server_runs_as_an_unprivileged_user(pg):
    _, registry = pg
    assert psutil.Process(registry.get(NAME).pid).username() == "lakewatch-pg"


_HOLDER = """
import os, sys, time, psycopg
conn = psycopg.connect(sys.argv[1], application_name="airflow-scheduler")
conn.execute("SELECT x FROM locked FOR UPDATE")  # a transaction holding a row lock
if os.fork() == 0:  # a LocalExecutor worker: forked with the connection's socket
    time.sleep(120)
    os._exit(0)
print("locked", flush=True)
time.sleep(120)
"""


def test_a_killed_schedulers_locks_outlive_it_until_its_sessions_are_ended(pg, tmp_path):
    """The demo's scheduler restart ends the dead scheduler's sessions: its forked workers
    keep the socket open, so PostgreSQL would hold its row locks for as long as they live."""
    import signal
    import subprocess
    import sys

    import psycopg

    server, _ = pg
    with server._connect("airflow") as conn:
        conn.execute("CREATE TABLE locked (x int)")
        conn.execute("INSERT INTO locked VALUES (1)")
    dsn = (
        f"host=127.0.0.1 port={server.port} user=airflow dbname=airflow password={server.password}"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, dsn], stdout=subprocess.PIPE, text=True
    )
    worker = None
    try:
        assert holder.stdout.readline().strip() == "locked"
        worker = psutil.Process(holder.pid).children()[0]
        os.kill(holder.pid, signal.SIGKILL)  # the scheduler dies; its worker lives on
        holder.wait(timeout=10)

        def update() -> None:
            with server._connect("airflow") as conn:
                conn.execute("SET lock_timeout = '2s'")
                conn.execute("UPDATE locked SET x = 2")

        with pytest.raises(psycopg.errors.LockNotAvailable):
            update()  # the dead scheduler's lock is still held
        assert server.end_sessions("airflow-scheduler") == 1
        update()
        assert server.end_sessions("airflow-scheduler") == 0
    finally:
        if worker is not None:
            with contextlib.suppress(psutil.NoSuchProcess):
                worker.kill()
        holder.kill()


def test_urls_name_the_component_that_uses_them(pg):
    server, _ = pg
    assert server.url(application="airflow-scheduler").endswith(
        "/airflow?application_name=airflow-scheduler"
    )
    assert "application_name" not in server.url("psycopg_async")


def test_two_servers_starting_at_once_create_the_system_user_once(monkeypatch, tmp_path):
    """As root on a fresh machine, the first server creates lakewatch-pg; two at once (two
    demos, the suite's parallel workers) must not both run useradd (the second's fails)."""
    import pwd
    import threading
    import time

    from lakewatch.local import postgres

    created: list[str] = []

    def getpwnam(name):
        if name in created:
            return object()
        raise KeyError(name)

    def useradd(argv, **kwargs):
        time.sleep(0.2)  # long enough for the other thread to get past its first look
        if argv[-1] in created:
            raise AssertionError("useradd ran twice")
        created.append(argv[-1])

    monkeypatch.setattr(postgres, "_as_root", lambda: True)
    monkeypatch.setattr(pwd, "getpwnam", getpwnam)
    monkeypatch.setattr(postgres.subprocess, "run", useradd)
    monkeypatch.setattr(postgres.tempfile, "gettempdir", lambda: str(tmp_path))
    got: list[str | None] = []
    threads = [threading.Thread(target=lambda: got.append(postgres._system_user())) for _ in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == [postgres.SYSTEM_USER] * 2
    assert created == [postgres.SYSTEM_USER]
