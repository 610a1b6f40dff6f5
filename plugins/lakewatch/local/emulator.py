"""The local AWS emulator: a moto server on loopback, started and stopped by lakewatch.

moto serves S3, SQS, SSM and IAM faithfully over HTTP; boto3 reaches it through
``endpoint_url``. Its state lives in memory, so ``up`` re-creates lakewatch's resources.
"""

from __future__ import annotations

import socket
import sys
import urllib.request

from lakewatch.local.processes import ProcessRecord, ProcessRegistry, wait_for
from lakewatch.settings import Settings

NAME = "emulator"


def is_serving(settings: Settings) -> bool:
    """True when something answers moto's API on the configured address."""
    url = f"http://{settings.emulator_host}:{settings.emulator_port}/moto-api/"
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return resp.status == 200
    except OSError:
        return False


def start(settings: Settings, timeout: float = 60.0) -> ProcessRecord | None:
    """Start the emulator unless it already runs; returns the record of one we started."""
    registry = ProcessRegistry(settings.run_dir)
    if registry.running(NAME) and is_serving(settings):
        return registry.get(NAME)
    if is_serving(settings):
        raise RuntimeError(
            f"port {settings.emulator_port} already serves a moto API that lakewatch did not "
            "start; stop it or set LAKEWATCH_EMULATOR_PORT"
        )
    if _port_taken(settings.emulator_host, settings.emulator_port):
        raise RuntimeError(
            f"{settings.emulator_host}:{settings.emulator_port} is in use by another program; "
            "set LAKEWATCH_EMULATOR_PORT to a free port"
        )
    argv = [
        sys.executable,
        "-m",
        "moto.server",
        "-H",
        settings.emulator_host,
        "-p",
        str(settings.emulator_port),
    ]
    record = registry.start(NAME, argv, env={"MOTO_ACCOUNT_ID": settings.account_id})
    try:
        wait_for(lambda: is_serving(settings), timeout, what=f"the emulator ({record.log})")
    except TimeoutError:
        registry.stop(NAME)
        raise
    return record


def stop(settings: Settings) -> bool:
    return ProcessRegistry(settings.run_dir).stop(NAME)


def reset(settings: Settings) -> None:
    """Drop every resource in the emulator (moto's reset API)."""
    url = f"http://{settings.emulator_host}:{settings.emulator_port}/moto-api/reset"
    urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=10).close()


def _port_taken(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]
