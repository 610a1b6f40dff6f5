"""Supervision and deadlines for the demo: nothing it started may die unnoticed, no wait may
hang or stay silent.

``Supervisor`` watches every process lakewatch registered (``local.processes``): the
emulator, PostgreSQL, each Airflow component, the model servers and router, the scorer
runtime. One that exits is named, with the end of its log; components that are safe to
restart (the scheduler, the DAG processor and the triggerer are designed for it: their work
lives in the database) are restarted once, and the demo says so; anything else stops the demo
with a non-zero exit. A process stopped on purpose (``ProcessRegistry.stop``) loses its record
first, so it is never mistaken for a death.

``wait`` polls with a deadline and prints the state it sees whenever it changes and at least
every ``heartbeat`` seconds; past the deadline it fails naming what it waited for and the last
state seen.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from lakewatch.local.processes import ProcessRegistry, log_tail

T = TypeVar("T")
Out = Callable[[str], None]
RESTARTABLE = (
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    # a Celery worker's tasks are acknowledged late, and a lost one is failed and retried
    "airflow-celery-worker-1",
    "airflow-celery-worker-2",
)
GRACE_S = 10.0  # a process the pipeline itself replaces (a retried deploy) gets this long


class ProcessDied(RuntimeError):
    """A process the demo needs exited (and could not, or may not, be restarted)."""


class DeadlineExceeded(TimeoutError):
    """A wait passed its deadline; the message says what it waited for and what it saw."""


def _print(text: str) -> None:
    print(text, flush=True)


def _indent(text: str) -> str:
    return "\n".join(f"        | {line}" for line in text.splitlines())


class Supervisor:
    def __init__(
        self,
        registry: ProcessRegistry,
        restart: Callable[[str], None] | None = None,
        out: Out = _print,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.registry, self.restart, self.out, self.clock = registry, restart, out, clock
        self.restarted: set[str] = set()
        self._dead_since: dict[str, float] = {}

    def check(self) -> None:
        """Raise ``ProcessDied`` for a dead process (after restarting the safe ones once)."""
        for record in self.registry.records():
            if "~" in record.name:  # retired after a restart: its stragglers may finish
                continue
            if record.alive():
                self._dead_since.pop(record.name, None)
                continue
            tail = log_tail(record.log)
            if record.name in RESTARTABLE and self.restart and record.name not in self.restarted:
                self.out(
                    f"      ! {record.name} (pid {record.pid}) exited; restarting it once. "
                    f"End of {record.log}:"
                )
                self.out(_indent(tail))
                self.restarted.add(record.name)
                self.restart(record.name)
                self.out(f"      ! restarted {record.name}")
                continue
            if not record.name.startswith("airflow-") and record.name not in (
                "emulator",
                "postgres",
                "redis",
            ):
                first = self._dead_since.setdefault(record.name, self.clock())
                if self.clock() - first < GRACE_S:
                    continue  # the task that owns it may be replacing it right now
            again = " again after its restart" if record.name in self.restarted else ""
            raise ProcessDied(
                f"{record.name} (pid {record.pid}) exited{again}; end of {record.log}:\n{tail}"
            )


def wait(
    what: str,
    poll: Callable[[], tuple[bool, str, T]],
    deadline_s: float,
    supervisor: Supervisor | None = None,
    *,
    interval: float = 3.0,
    heartbeat: float = 15.0,
    out: Out = _print,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Poll until ``poll()`` says done; ``poll`` returns (done, state to show, value)."""
    started = clock()
    shown_at: float | None = None
    shown = ""
    state = "nothing seen yet"
    while True:
        if supervisor is not None:
            supervisor.check()
        try:
            done, state, value = poll()
        except (OSError, RuntimeError) as err:  # the API restarting, a refused connection
            done, state, value = False, f"cannot ask yet ({err})"[:300], None
        if done:
            return value  # type: ignore[return-value]  # poll said done: its value is a T
        now = clock()
        if state != shown or shown_at is None or now - shown_at >= heartbeat:
            out(f"      {what}: {state} (waited {now - started:.0f}s of {deadline_s:.0f}s)")
            shown, shown_at = state, now
        if now - started >= deadline_s:
            raise DeadlineExceeded(
                f"{what}: not done after {deadline_s:.0f}s; last state seen: {state}"
            )
        sleep(interval)


def progress(states: list[str], want: int) -> str:
    """``[###---] 3/6 success, 1 running, 2 queued`` for a list of run states."""
    counts: dict[str, int] = {}
    for s in states:
        counts[s] = counts.get(s, 0) + 1
    done = counts.get("success", 0) + counts.get("failed", 0)
    width = max(want, 1)
    bar = "#" * min(done, width) + "-" * max(width - done, 0)
    rest = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()) if s != "success")
    return f"[{bar}] {counts.get('success', 0)}/{want} success" + (f", {rest}" if rest else "")
