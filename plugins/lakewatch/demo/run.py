"""``make demo``: the whole loop on the local backend, run by a real Airflow.

1. reset: stop what a previous demo left running, clear its state; start the emulator;
2. write a synthetic Security Lake of ``days`` days (ending yesterday) into it, CloudTrail
   management events included: the pair set is the network views and ``signin``;
3. start Airflow (API server, scheduler, DAG processor, triggerer; PostgreSQL metadata) on the
   project's DAGs, every process supervised and every wait bounded (``demo.supervise``); with
   ``executor="celery"`` on the CeleryExecutor: a Redis broker and two Celery workers;
4. backfill ``lakewatch_extract`` over those days, as a user would from the UI;
5. unpause the Asset consumers, then unpause and trigger ``lakewatch_train`` and
   ``lakewatch_rcf_train`` (a first training, as a user does from the UI once the extracts
   are in), which train IP Insights and Random Cut Forest on the window and deploy each to
   its endpoint; each deployed-model Asset triggers its recalibration and the scorer deploy;
6. write today with ``--notify`` (the Random Cut Forest's port, protocol and volume kinds
   among its attacks): the deployed scorer turns it into findings in real time, and puts a
   step-up event on the EventBridge bus for each unusual sign-in (read back from the local
   inbox queue its rule delivers to);
7. run the hourly scorer check once, and write the report.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from lakewatch.aws.clients import ClientFactory
from lakewatch.backends import backend_for, clients_for
from lakewatch.demo.airflow_local import USER, LocalAirflow
from lakewatch.demo.analyst import feedback_lines, review_day
from lakewatch.demo.api import AirflowAPI, epoch
from lakewatch.demo.report import write_report
from lakewatch.demo.supervise import DeadlineExceeded, ProcessDied, Supervisor, wait
from lakewatch.extract.views import DEFAULT_VIEWS, SIGNIN_VIEWS
from lakewatch.lake import notify
from lakewatch.lake.sink import S3Store
from lakewatch.lake.synthetic import GenerateOptions
from lakewatch.lake.write import WriteSummary, read_labels, write_lake
from lakewatch.local import emulator
from lakewatch.local.bootstrap import (
    ALERTS_INBOX,
    Resources,
    read_alerts,
    read_step_up_events,
    step_up_inbox,
)
from lakewatch.local.processes import ProcessRegistry
from lakewatch.names import RCF_ENDPOINT
from lakewatch.review.desk import Desk
from lakewatch.settings import Settings, load_settings

TRAINERS = ("lakewatch_train", "lakewatch_rcf_train")
# the scorer deploy last: both models' Asset events have created its runs once the
# recalibrations' have run
CONSUMERS = ("lakewatch_recalibrate", "lakewatch_rcf_recalibrate", "lakewatch_scorer_deploy")
IPI_CONSUMERS = ("lakewatch_recalibrate", "lakewatch_scorer_deploy")
DEMO_VIEWS = (*DEFAULT_VIEWS, *SIGNIN_VIEWS)  # what the demo extracts, trains on and scores
STEP_UP_BUS = "lakewatch-step-up"


class Step:
    def __init__(self, total: int):
        self.total, self.n, self.started = total, 0, time.monotonic()

    def __call__(self, text: str) -> None:
        self.n += 1
        print(
            f"[{self.n}/{self.total}] {text} (t+{time.monotonic() - self.started:.0f}s)", flush=True
        )


def _drain(sqs, queue_url: str, timeout: float, supervisor: Supervisor) -> None:
    """Until the subscriber queue has been empty (nothing visible or in flight) for 5s."""
    empty_since: list[float] = []

    def poll() -> tuple[bool, str, None]:
        attrs = sqs.get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        visible = int(attrs["ApproximateNumberOfMessages"])
        in_flight = int(attrs["ApproximateNumberOfMessagesNotVisible"])
        if visible + in_flight:
            empty_since.clear()
        elif not empty_since:
            empty_since.append(time.monotonic())
        quiet = bool(empty_since) and time.monotonic() - empty_since[0] >= 5
        return quiet, f"{visible} queued, {in_flight} being scored", None

    wait("the scorer draining the subscriber queue", poll, timeout, supervisor, interval=1.0)


def _wait_for_alerts(sqs, timeout: float, supervisor: Supervisor) -> list[dict[str, str]]:
    """The failure callback runs in the DAG processor a moment after the run fails."""
    got: list[dict[str, str]] = []

    def poll() -> tuple[bool, str, list[dict[str, str]]]:
        got.extend(read_alerts(sqs, wait_s=1))
        return bool(got), f"{len(got)} alert(s) in {ALERTS_INBOX}", got

    return wait("the failure alert", poll, timeout, supervisor)


def _asset_run(
    api: AirflowAPI, dag_id: str, timeout: float, supervisor: Supervisor, since: float = 0
) -> dict:
    """The latest finished run the Asset triggered (after ``since``, epoch seconds)."""

    def poll() -> tuple[bool, str, dict]:
        runs = [
            r
            for r in api.runs(dag_id)
            if r["run_type"] == "asset_triggered" and epoch(r.get("queued_at")) >= since
        ]
        done = [r for r in runs if r["state"] in ("success", "failed")]
        settled = bool(done) and len(done) == len(runs)  # none queued or running behind it
        states = ", ".join(f"{r['dag_run_id']} {r['state']}" for r in runs[-3:]) or "no run yet"
        return settled, states, done[-1] if done else {}

    return wait(f"{dag_id} (triggered by the deployed-model Asset)", poll, timeout, supervisor)


@dataclass(frozen=True)
class _Loop:
    """What the steps after Airflow starts share: the lake the demo writes (``start`` to
    ``today``, ``rows_per_day`` a day from ``seed``) and the queue that announces it, the
    Airflow API, and how each step reports and waits."""

    settings: Settings
    clients: ClientFactory
    api: AirflowAPI
    lake: S3Store
    queue_url: str
    start: date
    today: date
    seed: int
    rows_per_day: int
    step: Step
    supervisor: Supervisor
    churn: float = 0.0


def _score_live_day(loop: _Loop, sqs: Any, day: date) -> WriteSummary:
    """Write a day with attacks, announcing each object on the subscriber queue as Security
    Lake does, and wait until the deployed scorer has drained the queue."""
    written = write_lake(
        GenerateOptions(
            days=1,
            start=day,
            seed=loop.seed,
            rows_per_day=loop.rows_per_day,
            region=loop.settings.region,
            origin=loop.start,
            churn=loop.churn,
            cloudtrail=True,
            rcf_anomalies=True,
        ),
        loop.lake,
        ground_truth_prefix=loop.settings.ground_truth_prefix,
        notifier=lambda m: notify.send(sqs, loop.queue_url, m),
        account_id=loop.settings.account_id,
    )
    _drain(sqs, loop.queue_url, timeout=600, supervisor=loop.supervisor)
    return written


def run_demo(
    days: int,
    rows_per_day: int,
    seed: int,
    airflow_port: int = 8280,
    feedback: bool = True,
    churn: float = 0.0,
    executor: str = "local",
) -> int:
    """The demo (on Airflow's LocalExecutor, or ``executor="celery"``); a process dying or a
    wait passing its deadline ends it with exit status 1, naming what happened (and leaving the
    rest running for a look: ``make down`` stops it)."""
    try:
        return _run(days, rows_per_day, seed, airflow_port, feedback, churn, executor)
    except (ProcessDied, DeadlineExceeded, RuntimeError) as err:  # each names what happened
        print(f"\ndemo failed: {err}", flush=True)
        print("Stop what the demo started: make down", flush=True)
        return 1


def _run(
    days: int,
    rows_per_day: int,
    seed: int,
    airflow_port: int,
    feedback: bool,
    churn: float,
    executor: str,
) -> int:
    """The steps in order (the module's docstring); the exit status is the scorer check's."""
    settings = load_settings()
    settings = settings.model_copy(
        update={
            "state_dir": settings.state_dir.resolve(),
            # the network views and sign-ins: the lake has CloudTrail, the scorer puts a
            # step-up event on the bus for each unusual sign-in
            "pair_views": ",".join(DEMO_VIEWS),
            "step_up_event_bus": settings.step_up_event_bus or STEP_UP_BUS,
            # Random Cut Forest beside IP Insights: its own endpoint, the scorer's RCF step on
            "rcf_endpoint_name": settings.rcf_endpoint_name or RCF_ENDPOINT,
        }
    )
    step = Step(11 if feedback else 9)
    registry, clients, resources = _reset(settings, step)

    today = datetime.now(UTC).date()
    start = today - timedelta(days=days)
    step(
        f"writing {days} days of Security Lake ({start} to {today - timedelta(days=1)}, "
        f"{rows_per_day:,} rows a day, no attacks) into s3://{resources.lake_bucket}"
    )
    lake = S3Store(clients("s3"), resources.lake_bucket)
    summary = _write_quiet_days(settings, lake, start, days, rows_per_day, seed, churn)
    print("      " + summary.lines()[0], flush=True)

    airflow, supervisor, api = _start_airflow(settings, registry, airflow_port, step, executor)
    loop = _Loop(
        settings=settings,
        clients=clients,
        api=api,
        lake=lake,
        queue_url=resources.queue_url,
        start=start,
        today=today,
        seed=seed,
        rows_per_day=rows_per_day,
        step=step,
        supervisor=supervisor,
        churn=churn,
    )
    _backfill(loop, days)
    _train_and_deploy(loop)

    step(f"writing today ({today}) with --notify: the scorer processes it in real time")
    sqs = clients("sqs")
    live = _score_live_day(loop, sqs, today)
    print(f"      {live.notified} notifications processed", flush=True)
    step_ups = _show_step_ups(settings, sqs)

    check = _scorer_check(loop)
    _show_an_alert(loop, sqs)
    more = _feedback(loop) if feedback else []

    step("writing the report")
    page, lines, kinds = write_report(
        settings,
        clients,
        api,
        settings.state_dir / "report",
        [(start + timedelta(days=d)).isoformat() for d in range(days)],
        today.isoformat(),
    )
    if churn:
        lines.append(_churn_line(loop))
    kinds = with_step_ups(kinds, len(step_ups))
    _print_summary(lines, check[-1]["state"], more, airflow, page, kinds)
    return 0 if check[-1]["state"] == "success" else 1


def with_step_ups(kinds: list[str], events: int) -> list[str]:
    """The closing lines with ``step-up events: N`` after the kinds' (before ``all kinds``)."""
    at = next((i for i, line in enumerate(kinds) if line.startswith("all kinds:")), len(kinds))
    return [*kinds[:at], f"step-up events: {events}", *kinds[at:]]


def _show_step_ups(settings: Settings, sqs: Any) -> list[dict[str, Any]]:
    """The step-up events the scorer put on the bus for today's unusual sign-ins, read from
    the local inbox queue the bus's rule delivers to, each printed."""
    events = read_step_up_events(sqs, settings, wait_s=2)
    print(
        f"      {len(events)} step-up event(s) on {settings.step_up_event_bus} "
        f"(read from {step_up_inbox(settings)})",
        flush=True,
    )
    for event in events:
        d = event.get("detail") or {}
        mfa = {True: "with MFA", False: "without MFA"}.get(bool(d["mfa"]), "MFA unknown")
        mfa = mfa if d.get("mfa") is not None else "MFA unknown"
        print(
            f"      step-up: {event.get('detail-type')}: {d.get('principal')} from "
            f"{d.get('address')} ({mfa}, {d.get('outcome')}, severity {d.get('severity')})",
            flush=True,
        )
    return events


def _churn_line(loop: _Loop) -> str:
    """Today's new instances (first used today: no history) against the others."""
    from lakewatch.demo.evaluate import churn_line
    from lakewatch.lake.synthetic.generator import LakeGenerator
    from lakewatch.lake.write import read_labels
    from lakewatch.review.rows import read_day

    options = GenerateOptions(
        days=1,
        start=loop.today,
        seed=loop.seed,
        rows_per_day=loop.rows_per_day,
        region=loop.settings.region,
        origin=loop.start,
        churn=loop.churn,
        cloudtrail=True,
        rcf_anomalies=True,
    )
    generator = LakeGenerator(options)
    new = {uid for uid, first in generator.new_instances(loop.today).items() if first == loop.today}
    instances = list(generator.churn.ids(loop.today).uids)
    results = S3Store(loop.clients("s3"), loop.settings.results_bucket_name)
    findings = read_day(results, loop.settings.findings_prefix, loop.today)
    labels = read_labels(
        loop.lake, loop.settings.ground_truth_prefix, day=loop.today.strftime("%Y%m%d")
    )
    return churn_line(findings, labels, instances, new)


def _reset(settings: Settings, step: Step) -> tuple[ProcessRegistry, ClientFactory, Resources]:
    """Step 1: stop what a previous demo left running and clear its state, then start the
    emulator and provision the buckets and queues."""
    step("resetting: stopping anything a previous demo left running")
    registry = ProcessRegistry(settings.run_dir)
    registry.stop_all()
    for sub in ("airflow", "endpoints", "models", "lambda", "report"):
        shutil.rmtree(settings.state_dir / sub, ignore_errors=True)
    emulator.start(settings)
    clients = clients_for(settings)
    return registry, clients, backend_for(settings).provision(clients)


def _write_quiet_days(
    settings: Settings,
    lake: S3Store,
    start: date,
    days: int,
    rows_per_day: int,
    seed: int,
    churn: float,
) -> WriteSummary:
    """Step 2: the days before today, without attacks."""
    return write_lake(
        GenerateOptions(
            days=days,
            start=start,
            seed=seed,
            rows_per_day=rows_per_day,
            region=settings.region,
            origin=start,
            # the week before is quiet: each night recalibrates its 0.1% false-positive target
            # on its own pairs, and the generator's 15 attacks a day are 0.5% of them
            anomalies_per_kind=0,
            churn=churn,
            cloudtrail=True,
        ),
        lake,
        ground_truth_prefix=settings.ground_truth_prefix,
        account_id=settings.account_id,
    )


def _start_airflow(
    settings: Settings,
    registry: ProcessRegistry,
    airflow_port: int,
    step: Step,
    executor: str = "local",
) -> tuple[LocalAirflow, Supervisor, AirflowAPI]:
    """Step 3: Airflow's components, supervised, until the API lists the demo's DAGs."""
    celery = (
        f"; CeleryExecutor: two Celery workers, Redis on 127.0.0.1:{settings.redis_port}"
        if executor == "celery"
        else ""
    )
    step(
        f"starting Airflow on 127.0.0.1:{airflow_port} (API server, scheduler, DAG processor, "
        f"triggerer; metadata in PostgreSQL on 127.0.0.1:{settings.postgres_port}{celery})"
    )
    airflow = LocalAirflow(settings, settings.state_dir / "airflow", airflow_port, executor)
    airflow.init()
    supervisor = Supervisor(registry, restart=airflow.start_component)
    airflow.start(supervisor=supervisor)
    api = AirflowAPI(airflow.url, USER, airflow.password)
    api.wait_for_dags(
        ["lakewatch_extract", *TRAINERS, *CONSUMERS, "lakewatch_scorer_check"],
        supervisor=supervisor,
    )
    return airflow, supervisor, api


def _backfill(loop: _Loop, days: int) -> None:
    """Step 4: ``lakewatch_extract`` backfilled over the quiet days; every run must succeed."""
    loop.step(f"backfilling lakewatch_extract over {days} days")
    # the backfill's runs exist before the DAG is unpaused: unpaused first, the scheduler could
    # create the latest day's run itself (scheduled__...) before the backfill did
    # (backfill__...); the run id names the extract's attempt, and so the model id, so which
    # won that race changed the demo's closing lines
    loop.api.backfill("lakewatch_extract", loop.start, loop.today - timedelta(days=1))
    loop.api.unpause("lakewatch_extract")
    runs = loop.api.wait_for_runs(
        "lakewatch_extract", days, timeout=900, settled=True, supervisor=loop.supervisor
    )
    bad = [r["dag_run_id"] for r in runs if r["state"] != "success"]
    if bad:
        raise RuntimeError(f"extract runs did not succeed: {bad} (see the Airflow UI)")


def _train_and_deploy(loop: _Loop) -> None:
    """Step 5: the consumers unpaused first, so the deployed-model Assets the
    ``lakewatch_train`` and ``lakewatch_rcf_train`` runs update trigger them; then each
    trainer unpaused and triggered, and each run must succeed. Triggered, not left to its
    schedule: unpaused the first time, a trainer waits for its next time
    (``orchestration.schedules``), and its run's window ends at the run's own day."""
    loop.step(
        "unpausing and triggering lakewatch_train and lakewatch_rcf_train: they train IP "
        "Insights and Random Cut Forest on the window and deploy; each deployed-model Asset "
        "triggers its recalibration and the scorer deploy"
    )
    for dag_id in CONSUMERS:
        loop.api.unpause(dag_id)
    runs = {}
    for dag_id in TRAINERS:
        loop.api.unpause(dag_id)
        runs[dag_id] = loop.api.trigger(dag_id)["dag_run_id"]
    for dag_id, run_id in runs.items():
        ended = loop.api.wait_for_run(dag_id, run_id, timeout=1200, supervisor=loop.supervisor)
        if ended["state"] != "success":
            raise RuntimeError(f"{dag_id} {run_id} {ended['state']} (see the Airflow UI)")
    _consumers_succeeded(loop)


def _consumers_succeeded(
    loop: _Loop, since: float = 0, dag_ids: tuple[str, ...] = CONSUMERS
) -> None:
    """Each Asset consumer's latest triggered run (after ``since``) must have succeeded."""
    for dag_id in dag_ids:
        run = _asset_run(loop.api, dag_id, timeout=900, supervisor=loop.supervisor, since=since)
        if run["state"] != "success":
            raise RuntimeError(f"{dag_id} {run['dag_run_id']} {run['state']} (see the Airflow UI)")


def _scorer_check(loop: _Loop) -> list[dict]:
    """Step 7: one run of the hourly scorer check (its runs; the demo's status is the last's)."""
    loop.step("running the scorer check (canary through the live queue, DLQ, runtime)")
    loop.api.unpause("lakewatch_scorer_check")  # its hourly schedule runs the check at once
    return loop.api.wait_for_runs(
        "lakewatch_scorer_check", 1, timeout=600, supervisor=loop.supervisor
    )


def _show_an_alert(loop: _Loop, sqs: Any) -> None:
    """Step 8: a recalibration of a night with no extract must fail, and its failure alert
    reach the alerts inbox; the alerts are printed."""
    loop.step(
        "showing an alert: recalibrating a night with no extract fails, and on-call hears it "
        "(the DAG's SNS failure notifier, read from a queue subscribed to the alerts topic)"
    )
    read_alerts(sqs)  # anything earlier
    missing = loop.start - timedelta(days=1)
    run_id = loop.api.trigger("lakewatch_recalibrate", logical_date=missing + timedelta(days=1))[
        "dag_run_id"
    ]
    ended = loop.api.wait_for_run(
        "lakewatch_recalibrate", run_id, timeout=300, supervisor=loop.supervisor
    )
    if ended["state"] != "failed":
        raise RuntimeError(f"recalibrating {missing} (no extract) ended {ended['state']}")
    alerts = _wait_for_alerts(sqs, timeout=120, supervisor=loop.supervisor)
    for alert in alerts:
        print(f"      alert: {alert['subject']}: {alert['message'][:160]}", flush=True)


def _print_summary(
    lines: list[str],
    check_state: str,
    more: list[str],
    airflow: LocalAirflow,
    page: Path,
    kinds: list[str],
) -> None:
    """The report's lines, the check's state and the feedback's lines, where to look, then
    the closing lines (last: their form is checked from outside)."""
    print()
    for line in lines:
        print(line)
    print(f"scorer check: {check_state}")
    for line in more:  # before the closing lines, whose form is checked from outside
        print(line)
    print(f"\nAirflow UI: {airflow.url}  (login {USER} / {airflow.password})")
    print("Stop everything the demo started: make down")
    print(f"Report: {page}")
    for line in kinds:
        print(line)


def _feedback(loop: _Loop) -> list[str]:
    """The analyst in the loop: review today, retrain and recalibrate with the labels the way
    tomorrow night will, score tomorrow, and say what changed."""
    settings, clients, today = loop.settings, loop.clients, loop.today
    desk = Desk(
        S3Store(clients("s3"), settings.results_bucket_name),
        settings.findings_prefix,
        settings.feedback_prefix,
        lake=S3Store(clients("s3"), settings.lake_bucket_name),
        source_version=settings.source_version,
    )
    truth = read_labels(loop.lake, settings.ground_truth_prefix, day=f"{today:%Y%m%d}")
    review = review_day(desk, today, truth)
    loop.step(
        f"a scripted analyst reviews today: labels {len(review.labelled)} false positives, "
        f"suppresses {1 if review.suppressed else 0} (through the review page's desk)"
    )
    tomorrow = today + timedelta(days=1)
    loop.step(
        "tonight's loop with the labels (lakewatch_train: the false positives join the "
        "training pairs; the recalibration's normal set takes them), then "
        f"{tomorrow} scored in real time"
    )
    began = time.time()
    run_id = loop.api.trigger("lakewatch_train")["dag_run_id"]
    ended = loop.api.wait_for_run(
        "lakewatch_train", run_id, timeout=1200, supervisor=loop.supervisor
    )
    if ended["state"] != "success":
        raise RuntimeError(f"lakewatch_train {run_id} {ended['state']} (see the Airflow UI)")
    # only IP Insights retrains with the labels: the RCF model and its threshold stay
    _consumers_succeeded(loop, since=began, dag_ids=IPI_CONSUMERS)
    _score_live_day(loop, clients("sqs"), tomorrow)
    return feedback_lines(
        review,
        desk.findings(today),
        truth,
        desk.findings(tomorrow),
        read_labels(loop.lake, settings.ground_truth_prefix, day=f"{tomorrow:%Y%m%d}"),
    )
