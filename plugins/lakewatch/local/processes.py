"""Start, find and stop the background processes lakewatch owns.

Each process is started in a new session (its own process group) and recorded in
``<state_dir>/run/<name>.json`` with its pid and start time. Stopping kills that process group
and nothing else; a recorded pid that now belongs to another program is left alone.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil


@dataclass(frozen=True)
class ProcessRecord:
    name: str
    pid: int
    create_time: float
    argv: list[str]
    log: str
    # a digest of what else it was started with (e.g. a function's environment), so a caller
    # can tell a restart is due when only that changed; "" when none was given
    config: str = ""

    def alive(self) -> bool:
        """True while the recorded process (same pid and start time) is running."""
        try:
            proc = psutil.Process(self.pid)
            return (
                abs(proc.create_time() - self.create_time) < 1.0
                and proc.status() != psutil.STATUS_ZOMBIE
            )
        except psutil.Error:
            return False


class ProcessRegistry:
    """The pid files under one run directory."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)

    def _path(self, name: str) -> Path:
        return self.run_dir / f"{name}.json"

    def get(self, name: str) -> ProcessRecord | None:
        path = self._path(name)
        if not path.exists():
            return None
        try:
            return ProcessRecord(**json.loads(path.read_text()))
        except (ValueError, TypeError):
            return None

    def running(self, name: str) -> ProcessRecord | None:
        record = self.get(name)
        return record if record and record.alive() else None

    def records(self) -> list[ProcessRecord]:
        if not self.run_dir.exists():
            return []
        found = (self.get(p.stem) for p in sorted(self.run_dir.glob("*.json")))
        return [r for r in found if r is not None]

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        user: str | None = None,
        config: str = "",
    ) -> ProcessRecord:
        """Start ``argv`` in its own process group, logging to ``<run_dir>/<name>.log``
        (as ``user`` when given: root only); ``config`` is kept in the record."""
        if self.running(name):
            raise RuntimeError(f"{name} is already running (see {self._path(name)})")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        log = self.run_dir / f"{name}.log"
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                cwd=cwd,
                start_new_session=True,
                **as_user(user),
            )
        record = ProcessRecord(
            name=name,
            pid=proc.pid,
            create_time=psutil.Process(proc.pid).create_time(),
            argv=list(argv),
            log=str(log),
            config=config,
        )
        tmp = self._path(name).with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(record)))
        tmp.replace(self._path(name))
        return record

    def stop(self, name: str, timeout: float = 15.0) -> bool:
        """Stop the process group of ``name`` (its leader, or what is left of the group once
        the leader died); True if something was stopped."""
        record = self.get(name)
        self._path(name).unlink(missing_ok=True)
        if record is None:
            return False
        if record.alive():
            _kill_group(record.pid, timeout)
            return True
        return _kill_stragglers(record, timeout)

    def retire(self, name: str) -> ProcessRecord | None:
        """Set aside the record of a dead process so ``name`` can start again, keeping track of
        what is left of its group (a dead scheduler's LocalExecutor workers finish their tasks
        and report them): ``stop_all`` still stops it. Retired names contain ``~``."""
        record = self.get(name)
        if record is None:
            return None
        retired = ProcessRecord(**{**asdict(record), "name": f"{name}~{record.pid}"})
        self._path(retired.name).write_text(json.dumps(asdict(retired)))
        self._path(name).unlink(missing_ok=True)
        return retired

    def stop_all(self, timeout: float = 15.0) -> list[str]:
        """Stop every recorded process; returns the names stopped, newest first. The services
        stop together (each waits for its own group: the triggerer's graceful exit took 11 s
        and a dead scheduler's workers 15, one after the other), then the stores they write
        to (``SERVED_LAST``), newest first."""
        records = sorted(self.records(), key=lambda r: r.create_time, reverse=True)
        services = [r.name for r in records if r.name not in SERVED_LAST]
        with ThreadPoolExecutor(max_workers=max(1, len(services))) as pool:
            done = dict(
                zip(services, pool.map(lambda n: self.stop(n, timeout), services), strict=True)
            )
        for record in records:
            if record.name in SERVED_LAST:
                done[record.name] = self.stop(record.name, timeout)
        return [r.name for r in records if done[r.name]]


# Stopped after the services, which write to them as they exit: the metadata database
# (local.postgres.NAME), the Celery broker (local.redis.NAME) and the emulator
# (local.emulator.NAME).
SERVED_LAST = ("postgres", "redis", "emulator")
STRAGGLER_GRACE = 5.0


def _kill_stragglers(record: ProcessRecord, timeout: float) -> bool:
    """Stop what is left of a dead leader's process group (started after the leader, so a
    reused pid is never mistaken for it). At most ``STRAGGLER_GRACE`` seconds after SIGTERM:
    a dead scheduler's idle LocalExecutor workers inherited its SIGTERM handler and never
    exit on it (their tasks' own processes do, at once)."""
    timeout = min(timeout, STRAGGLER_GRACE)
    members = []
    for proc in psutil.process_iter(["create_time", "status"]):
        if (
            _pgid(proc.pid) == record.pid
            and proc.info["create_time"] >= record.create_time - 1
            and proc.info["status"] != psutil.STATUS_ZOMBIE  # exited, only not reaped yet
        ):
            members.append(proc)
    if not members:
        return False
    for proc in members:
        _signal(proc.pid, signal.SIGTERM)
    alive = wait_exited(members, timeout)
    for proc in alive:
        _signal(proc.pid, signal.SIGKILL)
    wait_exited(alive, 5)
    return True


def as_user(user: str | None) -> dict:
    """``subprocess`` arguments that run a child as ``user`` with only that user's group (not
    root's: group bits on root-owned folders would then decide, and deny)."""
    if not user:
        return {}
    import pwd

    return {"user": user, "group": pwd.getpwnam(user).pw_gid, "extra_groups": []}


def _kill_group(pid: int, timeout: float) -> None:
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return
    if pgid != pid:
        # Not a group leader we created: signal the process (and its children) only.
        procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
        for p in procs:
            _signal(p.pid, signal.SIGTERM)
        for p in wait_exited(procs, timeout):
            _signal(p.pid, signal.SIGKILL)
        return
    members = [p for p in psutil.process_iter() if _pgid(p.pid) == pgid]
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    alive = wait_exited(members, timeout)
    if alive:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        wait_exited(alive, 5)


def wait_exited(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """The processes still running after up to ``timeout`` seconds (``psutil.wait_procs``,
    with a zombie counted as exited: a process that another one started, the test runner or
    a CLI still running, stays a zombie until that parent reaps it, and waiting for it took
    the whole timeout: 20 s for every ``make down`` in a test). Our own children are reaped."""
    with contextlib.suppress(TimeoutError):
        wait_for(lambda: not any(_running(p) for p in procs), timeout, 0.05, "their exit")
    return [p for p in procs if _running(p)]


def _running(proc: psutil.Process) -> bool:
    try:
        if proc.status() != psutil.STATUS_ZOMBIE:
            return True
        with contextlib.suppress(psutil.TimeoutExpired, ChildProcessError):
            proc.wait(timeout=0)  # ours: reaped; another's: left to its parent
    except psutil.NoSuchProcess:
        pass
    return False


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except (ProcessLookupError, PermissionError):
        return None


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def wait_for(predicate, timeout: float, interval: float = 0.1, what: str = "condition") -> None:
    """Poll ``predicate`` until it is true or raise ``TimeoutError`` naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def listening(port: int) -> bool:
    """Something accepts TCP connections on the loopback ``port``: the cheap first check of
    a starting server, before its own protocol is tried."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def wait_until_ready(record: ProcessRecord, ready, timeout: float, what: str) -> None:
    """Wait for ``ready()``; fail at once, with the end of its log, if the process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if not record.alive():
            raise RuntimeError(
                f"{what} exited while starting; end of {record.log}:\n" + log_tail(record.log)
            )
        time.sleep(0.1)
    raise TimeoutError(
        f"timed out after {timeout:.0f}s waiting for {what}; end of "
        f"{record.log}:\n" + log_tail(record.log)
    )


def log_tail(path: str, lines: int = 15) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
