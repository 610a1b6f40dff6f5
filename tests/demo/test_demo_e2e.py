"""``lakewatch demo`` end to end, with the scheduler killed during the backfill.

The demo must notice, say which process died with the end of its log, restart it once (the
scheduler is designed for that) and finish; its closing lines keep their form and the
detector's recall per injected kind stays above floors measured on this demo, sign-ins (the
signin view, issue 29) included, with their step-up events read from the local inbox.
"""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from lakewatch.local.postgres import free_port
from tests.demo.browser import check_review_page

REPO = Path(__file__).resolve().parents[2]
# Floors below what the demo measures on seeds 7 (the default, which this test runs), 1 and 2
# (docs/benchmarks.md); its lake, split and first training no longer depend on the date, the
# weekday or the hour it runs (they did until 2026-12-08), so a regression, not the calendar,
# trips them.
RECALL_FLOORS = {
    "c2_beacon": 0.8,
    "exfiltration": 0.8,
    "rare_domain": 0.8,
    "lateral_movement": 0.8,  # measured 83%, 100%, 100% on seeds 7, 1, 2 (2026-12-08)
    "scan": 0.9,  # measured 100% on seeds 7 and 1 (an inbound sweep takes every target), 79% on 2
}
PAIR_PRECISION_FLOOR = 80  # percent of flagged pairs that are injected; measured 90-94
INCIDENT_RECALL_FLOOR = 90  # percent of injected events; measured 96-100
INCIDENT_PRECISION_FLOOR = 90  # percent of incidents that are injected (issue 29); measured 90-97
# percent of injected sign-ins: issue 29 asks for 90 (seed 7: 12 of 12 once the hourly job's
# sign-ins were trained on and the principals' detector put the baseline first; docs/detector.md)
SIGNIN_RECALL_FLOOR = 90
# percent of each Random Cut Forest kind's injected events (issue 30 asks 90 at incident
# precision 90; measured 3 of 3 of every kind on seeds 7, 1 and 2 with each instance against its
# own usual hour, docs/rcf.md#in-the-demo)
RCF_RECALL_FLOOR = 90
RCF_KINDS = ("rcf_admin_port", "rcf_new_port_beacon", "rcf_new_protocol", "rcf_volume_spike")


def _kill_scheduler_when_backfill_runs(state_dir: Path, lines: list[str], done: list[str]):
    """Once the backfill has runs going, SIGKILL the scheduler (a crash: its LocalExecutor
    workers are orphaned, finish their tasks and report to the API server)."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if any("lakewatch_extract runs:" in line and "running" in line for line in lines):
            record = json.loads((state_dir / "run" / "airflow-scheduler.json").read_text())
            os.kill(record["pid"], signal.SIGKILL)
            done.append(str(record["pid"]))
            return
        time.sleep(0.5)


def _state_dir_of(proc: psutil.Process) -> str | None:
    """The lakewatch state dir a process was started with (the scheduler's orphaned workers
    included), or None."""
    try:
        env = proc.environ()
    except (psutil.Error, OSError):
        return None
    return env.get("LAKEWATCH_STATE_DIR")


@pytest.mark.timeout(1200)
def test_demo_recovers_from_a_dead_scheduler_and_finds_the_anomalies(tmp_path):
    state = tmp_path / "state"
    env = {
        **os.environ,
        "LAKEWATCH_STATE_DIR": str(state),
        "LAKEWATCH_EMULATOR_PORT": str(free_port()),
        "LAKEWATCH_MODEL_SERVER_PORT": str(free_port()),
        "LAKEWATCH_POSTGRES_PORT": str(free_port()),
    }
    proc = subprocess.Popen(
        # the analyst-in-the-loop phase (a second training run and day) is left to `make demo`
        # and tests/demo/test_analyst.py: it would take make test past its time budget
        [
            sys.executable,
            "-m",
            "lakewatch",
            "demo",
            "--no-feedback",
            "--airflow-port",
            str(free_port()),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    killed: list[str] = []
    killer = threading.Thread(
        target=_kill_scheduler_when_backfill_runs, args=(state, lines, killed), daemon=True
    )
    killer.start()
    review = None
    try:
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
        code = proc.wait(timeout=60)
        ui = re.search(r"Airflow UI: (\S+)\s+\(login (\S+) / (\S+)\)", "\n".join(lines))
        if code == 0 and ui:  # the demo leaves Airflow up: review its findings in a browser
            review = check_review_page(*ui.groups())
    finally:
        subprocess.run(
            [sys.executable, "-m", "lakewatch", "local", "down"], env=env, cwd=REPO, check=False
        )
    out = "\n".join(lines)
    left = [p.pid for p in psutil.process_iter() if _state_dir_of(p) == str(state)]
    assert not left, f"make down left processes of the demo running: {left}"
    assert killed, "the backfill never showed a running extract:\n" + out[-3000:]
    assert code == 0, out[-5000:]
    assert f"airflow-scheduler (pid {killed[0]}) exited; restarting it once" in out
    assert "restarted airflow-scheduler" in out
    # one failed run, the demo's deliberate one (a night with no extract), and its alert
    assert "DAG runs:" in out and "(1 failed)" in out
    assert "alert: lakewatch: lakewatch_recalibrate failed: lakewatch_recalibrate run" in out
    # the review page: behind Airflow's login, in its navigation, labelling in the browser
    assert review is not None, "no Airflow UI line in the demo's output"
    assert review.anonymous_status == 401 and review.nav_link
    assert review.analyst == "admin" and review.rows > 0
    assert review.verdict_after == "false_positive", review
    assert review.usual.startswith("Usually, for "), review  # the entity's prefixes and peers
    assert review.rcf_rows > 0, review  # Random Cut Forest's hours ranked with the others
    # sign-ins beside the network findings, each with its principal, MFA and outcome
    assert review.signin_rows > 0 and review.signin_text.startswith("principal "), review
    assert "MFA" in review.signin_text, review
    m = re.search(r"^incidents: precision (\d+)% \(\d+ of \d+\), recall (\d+)% ", out, re.M)
    assert m and int(m.group(2)) >= INCIDENT_RECALL_FLOOR, out[-2000:]
    assert int(m.group(1)) >= INCIDENT_PRECISION_FLOOR, out[-2000:]
    assert "scorer check: success" in out
    # sign-ins: the signin view's findings against the injected ones, and their step-up events
    m = re.search(
        r"^signin: precision (\d+)%, recall (\d+)% \((\d+) of (\d+) injected sign-ins\)$",
        out,
        re.M,
    )
    assert m and int(m.group(4)) > 0, out[-3000:]
    assert int(m.group(2)) >= SIGNIN_RECALL_FLOOR, out[-2000:]
    # Random Cut Forest beside IP Insights: a line per injected kind, then all of them
    for kind in RCF_KINDS:
        m = re.search(
            rf"^{kind}: precision \d+%, recall (\d+)% \(\d+ of [1-9]\d* injected\)$", out, re.M
        )
        assert m, f"no closing line for {kind}:\n" + out[-3000:]
        assert int(m.group(1)) >= RCF_RECALL_FLOOR, (kind, out[-3000:])
    m = re.search(r"^rcf: precision (\d+)%, recall (\d+)% \((\d+) of (\d+) injected\)$", out, re.M)
    assert m and int(m.group(2)) >= RCF_RECALL_FLOOR, out[-3000:]
    m = re.search(r"^step-up events: (\d+)$", out, re.M)
    assert m and int(m.group(1)) >= 1, out[-3000:]
    # ranking with the lake's Security Hub findings: some corroborate, the top 10 are right
    m = re.search(
        r"^ranking: precision at the top 10 (\d+)% .* (\d+) Security Hub findings corroborate "
        r"(\d+) of",
        out,
        re.M,
    )
    assert m and int(m.group(1)) >= 80 and int(m.group(2)) > 0 and int(m.group(3)) > 0, out[-3000:]
    m = re.search(r"^all kinds: precision (\d+)% ", out, re.M)
    assert m and int(m.group(1)) >= PAIR_PRECISION_FLOOR, out[-2000:]
    recall = {}
    for kind, floor in RECALL_FLOORS.items():
        m = re.search(rf"^{kind}: precision (\d+)%, recall (\d+)% \(", out, re.M)
        assert m, f"no closing line for {kind}"
        recall[kind] = int(m.group(2)) / 100
        assert recall[kind] >= floor, (kind, recall[kind], floor)
