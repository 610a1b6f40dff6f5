import subprocess
import sys
import time

import psutil
import pytest

from lakewatch.local.processes import ProcessRegistry, wait_exited, wait_for

SLEEPER = [
    sys.executable,
    "-c",
    "import subprocess,sys,time; subprocess.Popen([sys.executable,'-c','import time; "
    "time.sleep(60)']); time.sleep(60)",
]


def test_stop_ends_the_whole_group_and_nothing_else(tmp_path):
    reg = ProcessRegistry(tmp_path)
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        rec = reg.start("sleeper", SLEEPER)
        wait_for(lambda: len(psutil.Process(rec.pid).children()) == 1, 10, what="child")
        child = psutil.Process(rec.pid).children()[0]
        assert reg.running("sleeper")
        assert reg.stop("sleeper") is True
        wait_for(lambda: not child.is_running() or child.status() == psutil.STATUS_ZOMBIE, 5)
        assert not rec.alive()
        assert bystander.poll() is None, "a process lakewatch did not start was killed"
        assert reg.get("sleeper") is None
    finally:
        bystander.kill()


def test_stale_pid_file_is_not_trusted(tmp_path):
    reg = ProcessRegistry(tmp_path)
    rec = reg.start("short", [sys.executable, "-c", "pass"])
    wait_for(lambda: not rec.alive(), 10)
    assert reg.running("short") is None
    assert reg.stop("short") is False


def test_refuses_to_start_twice(tmp_path):
    reg = ProcessRegistry(tmp_path)
    reg.start("one", [sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with pytest.raises(RuntimeError, match="already running"):
            reg.start("one", [sys.executable, "-c", "pass"])
    finally:
        assert reg.stop_all() == ["one"]


def test_wait_for_names_what_it_waited_for():
    start = time.monotonic()
    with pytest.raises(TimeoutError, match="the thing"):
        wait_for(lambda: False, 0.2, what="the thing")
    assert time.monotonic() - start < 2


def test_a_dead_leaders_workers_survive_a_retire_and_make_down_stops_them(tmp_path):
    """A crashed scheduler's LocalExecutor workers live on in its process group: retiring its
    record lets it restart while they finish, and stop_all (make down) still ends them."""
    import os
    import signal

    reg = ProcessRegistry(tmp_path)
    rec = reg.start("airflow-scheduler", SLEEPER)
    wait_for(lambda: len(psutil.Process(rec.pid).children()) == 1, 10, what="child")
    worker = psutil.Process(rec.pid).children()[0]
    os.kill(rec.pid, signal.SIGKILL)  # the leader alone, as a crash
    wait_for(lambda: not rec.alive(), 10, what="the leader's death")
    retired = reg.retire("airflow-scheduler")
    assert retired.name == f"airflow-scheduler~{rec.pid}"
    assert reg.get("airflow-scheduler") is None and worker.is_running()  # free to restart
    again = reg.start("airflow-scheduler", [sys.executable, "-c", "import time; time.sleep(60)"])
    assert sorted(reg.stop_all()) == ["airflow-scheduler", f"airflow-scheduler~{rec.pid}"]
    wait_for(lambda: not worker.is_running() or worker.status() == psutil.STATUS_ZOMBIE, 10)
    assert not again.alive()


@pytest.mark.timeout(120)
def test_a_zombie_counts_as_exited_whoever_must_reap_it():
    """A stopped process that another process started stays a zombie until that parent reaps
    it; waiting for it to 'exit' took the whole timeout (20 s a ``make down`` in a test). Here
    the timeout is 600 s, so only a wait that sees the zombie as exited returns in time."""
    parent = subprocess.Popen(  # starts a child, never reaps it, sleeps
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time\n"
            "child = subprocess.Popen([sys.executable, '-c', 'pass'])\n"
            "print(child.pid, flush=True)\n"
            "time.sleep(300)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        grandchild = psutil.Process(int(parent.stdout.readline()))
        wait_for(lambda: grandchild.status() == psutil.STATUS_ZOMBIE, 60, what="the zombie")
        assert wait_exited([grandchild], timeout=600) == []
        assert grandchild.status() == psutil.STATUS_ZOMBIE  # not ours to reap: left as it was
        ours = subprocess.Popen([sys.executable, "-c", "pass"])
        mine = psutil.Process(ours.pid)
        wait_for(lambda: mine.status() == psutil.STATUS_ZOMBIE, 60, what="our zombie")
        assert wait_exited([mine], timeout=600) == []
        assert not psutil.pid_exists(ours.pid)  # ours: reaped
        sleeper = psutil.Process(parent.pid)
        assert wait_exited([sleeper], timeout=0.2) == [sleeper]  # a running one is waited for
    finally:
        parent.kill()
        parent.wait()


def _slow_to_stop(log) -> list[str]:
    """A process that on SIGTERM writes when it got it, takes a second, writes when it left."""
    code = (
        "import signal, sys, time\n"
        f"log = {str(log)!r}\n"
        "def bye(*_):\n"
        "    open(log, 'a').write(f'term {time.time()}\\n'); time.sleep(1)\n"
        "    open(log, 'a').write(f'exit {time.time()}\\n'); sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, bye)\n"
        "open(log, 'a').write('up\\n')\n"
        "time.sleep(120)\n"
    )
    return [sys.executable, "-c", code]


def _times(log) -> dict[str, float]:
    return {k: float(v) for k, v in (ln.split() for ln in log.read_text().split("\n")[1:] if ln)}


def test_stop_all_stops_the_services_together_then_the_stores(tmp_path):
    """The services get SIGTERM together (one's shutdown no longer waits on another's), and
    the metadata database only once every service has exited; names newest first."""
    reg = ProcessRegistry(tmp_path / "run")
    logs = {name: tmp_path / f"{name}.log" for name in ("postgres", "scheduler", "triggerer")}
    for name, log in logs.items():
        reg.start(name, _slow_to_stop(log))
        wait_for(lambda log=log: log.exists() and log.read_text().startswith("up"), 30, what=name)
    assert reg.stop_all() == ["triggerer", "scheduler", "postgres"]
    scheduler, triggerer, postgres = (
        _times(logs[n]) for n in ("scheduler", "triggerer", "postgres")
    )
    assert scheduler["term"] < triggerer["exit"] and triggerer["term"] < scheduler["exit"]
    assert postgres["term"] >= max(scheduler["exit"], triggerer["exit"])
