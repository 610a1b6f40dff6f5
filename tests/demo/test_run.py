"""demo.run: the demo's steps are numbered with their elapsed time; it waits for the scorer to
drain the subscriber queue (nothing queued or in flight for a while) and for the failure alert
in the local inbox, and fails at a deadline naming what it saw rather than hang."""

import re
import uuid

import pytest

from lakewatch.demo.run import Step, _backfill, _drain, _Loop, _wait_for_alerts
from lakewatch.demo.supervise import DeadlineExceeded
from lakewatch.local.bootstrap import ensure_alerts_inbox, read_alerts


def test_steps_are_numbered_with_elapsed_time(capsys):
    step = Step(3)
    step("reset")
    step("write the lake")
    lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"\[1/3\] reset \(t\+\d+s\)", lines[0])
    assert lines[1].startswith("[2/3] write the lake")


def test_the_queue_drains_or_the_wait_names_what_is_left(clients, capsys):
    sqs = clients("sqs")
    url = sqs.create_queue(QueueName=f"drain-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    _drain(sqs, url, timeout=30, supervisor=None)  # empty: quiet after 5 s
    sqs.send_message(QueueUrl=url, MessageBody="{}")
    with pytest.raises(DeadlineExceeded, match="1 queued, 0 being scored"):
        _drain(sqs, url, timeout=2, supervisor=None)


def test_the_failure_alert_is_read_from_the_inbox(emulator_settings, clients):
    sqs, sns = clients("sqs"), clients("sns")
    ensure_alerts_inbox(sns, sqs, emulator_settings)
    read_alerts(sqs)  # what earlier tests left
    sns.publish(TopicArn=emulator_settings.alerts_topic, Subject="failed", Message="run r")
    assert _wait_for_alerts(sqs, timeout=30, supervisor=None) == [
        {"subject": "failed", "message": "run r"}
    ]


def test_the_step_up_count_closes_the_kinds_before_all_kinds():
    from lakewatch.demo.run import DEMO_VIEWS, with_step_ups

    kinds = ["scan: ...", "signin: precision 90%, recall 100% (12 of 12 injected sign-ins)"]
    got = with_step_ups([*kinds, "all kinds: ...", "incidents: ..."], 11)
    assert got == [*kinds, "step-up events: 11", "all kinds: ...", "incidents: ..."]
    assert with_step_ups([], 0) == ["step-up events: 0"]
    assert DEMO_VIEWS[-1] == "signin" and "egress_peer" in DEMO_VIEWS


class _RecordingAPI:
    def __init__(self):
        self.calls = []

    def unpause(self, dag_id):
        self.calls.append(("unpause", dag_id))

    def backfill(self, dag_id, start, end):
        self.calls.append(("backfill", dag_id, start, end))

    def wait_for_runs(self, dag_id, count, **kwargs):
        return [{"dag_run_id": f"backfill__{n}", "state": "success"} for n in range(count)]

    def trigger(self, dag_id, conf=None, logical_date=None):
        self.calls.append(("trigger", dag_id, logical_date))
        return {"dag_run_id": f"manual__{dag_id}"}

    def wait_for_run(self, dag_id, run_id, timeout, supervisor=None):
        self.calls.append(("wait", dag_id, run_id))
        return {"dag_run_id": run_id, "state": "success"}

    def runs(self, dag_id):
        return [
            {
                "dag_run_id": "a",
                "run_type": "asset_triggered",
                "state": "success",
                "queued_at": None,
            }
        ]


def _recording_loop(api: _RecordingAPI) -> _Loop:
    """A demo loop over the 2026-12-01..07 lake whose only live part is ``api``."""
    from datetime import date

    return _Loop(
        settings=None,
        clients=None,
        api=api,
        lake=None,
        queue_url="",
        start=date(2026, 12, 1),
        today=date(2026, 12, 7),
        seed=7,
        rows_per_day=1,
        step=Step(1),
        supervisor=None,
    )


def test_the_backfill_is_created_before_the_dag_is_unpaused(capsys):
    """Unpaused first, the scheduler may create the latest day's run (scheduled__...) before
    the backfill does; its run id names the extract attempt and so the model id, and the demo's
    figures would depend on that race."""
    from datetime import date

    api = _RecordingAPI()
    loop = _recording_loop(api)
    _backfill(loop, 6)
    assert api.calls == [
        ("backfill", "lakewatch_extract", date(2026, 12, 1), date(2026, 12, 6)),
        ("unpause", "lakewatch_extract"),
    ]


def test_the_trainers_are_triggered_not_left_to_their_schedules(capsys, monkeypatch):
    """Unpaused, a trainer waits for its next time (``orchestration.schedules``); the demo
    triggers each (no logical date: the run's window ends today, whatever the hour) and
    waits for that run, after unpausing the consumers its deploy triggers."""
    from lakewatch.demo import run

    monkeypatch.setattr(run, "epoch", lambda _: 0.0)
    api = _RecordingAPI()
    loop = _recording_loop(api)
    run._train_and_deploy(loop)
    consumers = [("unpause", d) for d in run.CONSUMERS]
    assert api.calls[: len(consumers)] == consumers
    assert api.calls[len(consumers) :] == [
        *(c for d in run.TRAINERS for c in (("unpause", d), ("trigger", d, None))),
        *(("wait", d, f"manual__{d}") for d in run.TRAINERS),
    ]
