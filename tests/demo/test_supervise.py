"""Supervision and deadlines: a dead process is named (or restarted once), no wait hangs."""

import itertools
import sys
import time

import pytest

from lakewatch.demo.supervise import (
    DeadlineExceeded,
    ProcessDied,
    Supervisor,
    progress,
    wait,
)
from lakewatch.local.processes import ProcessRegistry


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_a_wait_fails_at_its_deadline_naming_the_state_it_saw():
    clock, lines = FakeClock(), []
    states = iter(["2 queued", "1 running, 1 queued"] + ["1 running, 1 queued"] * 100)
    with pytest.raises(DeadlineExceeded) as err:
        wait(
            "lakewatch_extract runs",
            lambda: (False, next(states), None),
            60,
            out=lines.append,
            clock=clock,
            sleep=clock.sleep,
        )
    assert "lakewatch_extract runs: not done after 60s" in str(err.value)
    assert "last state seen: 1 running, 1 queued" in str(err.value)
    assert clock.now == pytest.approx(60, abs=3)


def test_a_wait_is_never_silent_for_longer_than_its_heartbeat():
    clock, lines, at = FakeClock(), [], []

    def out(text):
        lines.append(text)
        at.append(clock.now)

    polls = iter([(False, "same", None)] * 40 + [(True, "done", 7)])
    assert wait("x", lambda: next(polls), 600, out=out, clock=clock, sleep=clock.sleep) == 7
    gaps = [b - a for a, b in itertools.pairwise(at)]
    assert lines and max(gaps) <= 15
    assert "(waited 0s of 600s)" in lines[0]


def test_a_wait_outlives_a_refused_connection():
    clock, calls = FakeClock(), []

    def poll():
        calls.append(1)
        if len(calls) < 3:
            raise OSError("connection refused")
        return True, "ok", "value"

    lines = []
    assert wait("api", poll, 60, out=lines.append, clock=clock, sleep=clock.sleep) == "value"
    assert "cannot ask yet (connection refused)" in lines[0]


def test_progress_bar_counts_runs():
    assert progress(["success", "running", "queued", "success"], 6) == (
        "[##----] 2/6 success, 1 queued, 1 running"
    )


def _sleeper(registry, name, text="started"):
    code = f"import time; print({text!r}, flush=True); time.sleep(300)"
    return registry.start(name, [sys.executable, "-c", code])


def _wait_dead(record):
    deadline = time.monotonic() + 10
    while record.alive() and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.fixture
def registry(tmp_path):
    reg = ProcessRegistry(tmp_path / "run")
    yield reg
    reg.stop_all()


def test_the_scheduler_is_restarted_once_then_a_second_death_is_fatal(registry):
    import os
    import signal

    lines, restarts = [], []

    def restart(name):
        restarts.append(name)
        _sleeper(registry, name, "second life")

    first = _sleeper(registry, "airflow-scheduler", "StaleDataError: expected to update 3 row(s)")
    sup = Supervisor(registry, restart=restart, out=lines.append)
    sup.check()  # alive: nothing happens
    assert restarts == []
    time.sleep(0.3)
    os.killpg(first.pid, signal.SIGKILL)
    _wait_dead(first)
    sup.check()
    assert restarts == ["airflow-scheduler"]
    assert "airflow-scheduler" in lines[0] and "restarting it once" in lines[0]
    assert "StaleDataError" in "\n".join(lines)  # the end of its log is shown
    second = registry.get("airflow-scheduler")
    assert second.pid != first.pid and second.alive()
    time.sleep(0.3)
    os.killpg(second.pid, signal.SIGKILL)
    _wait_dead(second)
    with pytest.raises(ProcessDied, match=r"airflow-scheduler .* exited again after its restart"):
        sup.check()


def test_the_emulator_dying_stops_the_demo_with_its_log(registry):
    import os
    import signal

    rec = _sleeper(registry, "emulator", "moto: address already in use")
    time.sleep(0.3)
    os.killpg(rec.pid, signal.SIGKILL)
    _wait_dead(rec)
    with pytest.raises(ProcessDied) as err:
        Supervisor(registry, restart=lambda n: None, out=lambda s: None).check()
    assert str(err.value).startswith(f"emulator (pid {rec.pid}) exited")
    assert "address already in use" in str(err.value)


def test_a_model_server_gets_a_grace_period_then_is_fatal(registry):
    import os
    import signal

    clock = FakeClock()
    rec = _sleeper(registry, "model-lakewatch-ipinsights-ipi-1", "serving")
    os.killpg(rec.pid, signal.SIGKILL)
    _wait_dead(rec)
    sup = Supervisor(registry, out=lambda s: None, clock=clock)
    sup.check()  # within the grace period: a retried deploy may be replacing it
    clock.now += 11
    with pytest.raises(ProcessDied, match="model-lakewatch-ipinsights-ipi-1"):
        sup.check()


def test_a_process_stopped_on_purpose_is_not_a_death(registry):
    _sleeper(registry, "scorer")
    registry.stop("scorer")
    Supervisor(registry, out=lambda s: None).check()  # no record, no complaint
