"""The local CeleryExecutor's broker: Debian's redis-server on loopback only, answering only
with its generated password (kept out of argv, in owner-only files), stopped by make down."""

import shutil
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
import redis

from lakewatch.local.postgres import free_port
from lakewatch.local.processes import ProcessRegistry
from lakewatch.local.redis import NAME, LocalRedis
from lakewatch.settings import Settings
from tests.conftest import REPO

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="redis-server not installed (make setup)"
)


@pytest.fixture
def server(tmp_path):
    registry = ProcessRegistry(tmp_path / "run")
    broker = LocalRedis(tmp_path, free_port(), registry)
    broker.start()
    yield broker, registry
    registry.stop_all()


def test_refuses_a_client_without_the_password_and_answers_with_it(server):
    broker, _ = server
    for password in ("", "wrong"):
        refused = broker.client(password=password)
        assert refused.get_retry().get_retries() == 0  # said once, not after 10 backoffs
        with pytest.raises(redis.AuthenticationError):
            refused.ping()
    client = broker.client()
    assert client.ping()
    client.set("k", "v")
    assert client.get("k") == b"v"
    assert broker.url() == f"redis://:{broker.password}@127.0.0.1:{broker.port}/0"


def test_listens_on_loopback_only_and_keeps_its_secret_out_of_argv(server, tmp_path):
    broker, registry = server
    record = registry.get(NAME)
    proc = psutil.Process(record.pid)
    listening = {
        (c.laddr.ip, c.laddr.port)
        for c in proc.net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
    }
    assert listening == {("127.0.0.1", broker.port)}
    assert not proc.net_connections(kind="unix")  # no Unix socket either
    assert broker.password not in " ".join(proc.cmdline())
    assert broker.password not in Path(record.log).read_text()
    for name in ("password", "redis.conf"):
        assert oct((broker.root / name).stat().st_mode & 0o777) == "0o600", name
    assert str(broker.root).startswith(str(tmp_path))
    config = broker.client().config_get("protected-mode", "save", "appendonly", "dir")
    assert config == {
        "protected-mode": "yes",
        "save": "",
        "appendonly": "no",
        "dir": str(broker.root),
    }


def test_the_registry_stops_it_and_it_starts_again(server):
    broker, registry = server
    pid = registry.get(NAME).pid
    assert registry.stop_all() == [NAME]
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", broker.port), timeout=1).close()
    broker.start()  # a second demo: same password, fresh server
    assert broker.client().ping()


def test_make_down_stops_it(tmp_path):
    settings = Settings(state_dir=tmp_path / "state", redis_port=free_port())
    broker = LocalRedis(settings.state_dir, settings.redis_port, ProcessRegistry(settings.run_dir))
    broker.start()
    pid = broker.registry.get(NAME).pid
    down = subprocess.run(
        [sys.executable, "-m", "lakewatch", "local", "down"],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "LAKEWATCH_STATE_DIR": str(settings.state_dir)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert down.returncode == 0 and "stopped: redis" in down.stdout, down.stdout + down.stderr
    left = [p for p in psutil.process_iter(["cmdline"]) if p.pid == pid]
    assert not [p for p in left if p.status() != psutil.STATUS_ZOMBIE]
    assert not broker.ping()
