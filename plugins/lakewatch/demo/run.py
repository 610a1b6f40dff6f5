"""``make demo``: the whole loop on the local backend, run by a real Airflow.

1. reset: stop what a previous demo left running, clear its state; start the emulator;
2. write a synthetic Security Lake of ``days`` days (ending yesterday) into it;
3. start Airflow (API server, scheduler, DAG processor, triggerer; PostgreSQL metadata) on the
   project's DAGs, every process supervised and every wait bounded (``demo.supervise``);
4. backfill ``lakewatch_extract`` over those days, as a user would from the UI;
5. unpause the Asset consumers, then ``lakewatch_train``, whose schedule trains on the window
   and deploys; the deployed-model Asset triggers recalibration and the scorer deploy;
6. write today with ``--notify``: the deployed scorer turns it into findings in real time;
7. run the hourly scorer check once, and write the report.
"""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime, timedelta

from lakewatch.backends import backend_for, clients_for
from lakewatch.demo.airflow_local import USER, LocalAirflow
from lakewatch.demo.analyst import feedback_lines, review_day
from lakewatch.demo.api import AirflowAPI, epoch
from lakewatch.demo.report import write_report
from lakewatch.demo.supervise import DeadlineExceeded, ProcessDied, Supervisor, wait
from lakewatch.lake import notify
from lakewatch.lake.sink import S3Store
from lakewatch.lake.synthetic import GenerateOptions
from lakewatch.lake.write import WriteSummary, read_labels, write_lake
from lakewatch.local import emulator
from lakewatch.local.bootstrap import ALERTS_INBOX, read_alerts
from lakewatch.local.processes import ProcessRegistry
from lakewatch.review.desk import Desk
from lakewatch.settings import load_settings

CONSUMERS = ("lakewatch_recalibrate", "lakewatch_scorer_deploy")


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
        states = ", ".join(f"{r['dag_run_id']} {r['state']}" for r in runs[-3:]) or "no run yet"
        return bool(done), states, done[-1] if done else {}

    return wait(f"{dag_id} (triggered by the deployed-model Asset)", poll, timeout, supervisor)


def _score_live_day(
    settings, lake, sqs, queue_url, day, start, seed, rows_per_day, supervisor
) -> WriteSummary:
    """Write a day with attacks, announcing each object on the subscriber queue as Security
    Lake does, and wait until the deployed scorer has drained the queue."""
    written = write_lake(
        GenerateOptions(
            days=1,
            start=day,
            seed=seed,
            rows_per_day=rows_per_day,
            region=settings.region,
            origin=start,
        ),
        lake,
        ground_truth_prefix=settings.ground_truth_prefix,
        notifier=lambda m: notify.send(sqs, queue_url, m),
        account_id=settings.account_id,
    )
    _drain(sqs, queue_url, timeout=600, supervisor=supervisor)
    return written


def run_demo(
    days: int, rows_per_day: int, seed: int, airflow_port: int = 8280, feedback: bool = True
) -> int:
    """The demo; a process dying or a wait passing its deadline ends it with exit status 1,
    naming what happened (and leaving the rest running for a look: ``make down`` stops it)."""
    try:
        return _run(days, rows_per_day, seed, airflow_port, feedback)
    except (ProcessDied, DeadlineExceeded, RuntimeError) as err:  # each names what happened
        print(f"\ndemo failed: {err}", flush=True)
        print("Stop what the demo started: make down", flush=True)
        return 1


def _run(days: int, rows_per_day: int, seed: int, airflow_port: int, feedback: bool) -> int:
    settings = load_settings()
    settings = settings.model_copy(update={"state_dir": settings.state_dir.resolve()})
    step = Step(11 if feedback else 9)

    step("resetting: stopping anything a previous demo left running")
    registry = ProcessRegistry(settings.run_dir)
    registry.stop_all()
    for sub in ("airflow", "endpoints", "models", "lambda", "report"):
        shutil.rmtree(settings.state_dir / sub, ignore_errors=True)
    emulator.start(settings)
    clients = clients_for(settings)
    resources = backend_for(settings).provision(clients)

    today = datetime.now(UTC).date()
    start = today - timedelta(days=days)
    step(
        f"writing {days} days of Security Lake ({start} to {today - timedelta(days=1)}, "
        f"{rows_per_day:,} rows a day, no attacks) into s3://{resources.lake_bucket}"
    )
    lake = S3Store(clients("s3"), resources.lake_bucket)
    summary = write_lake(
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
        ),
        lake,
        ground_truth_prefix=settings.ground_truth_prefix,
        account_id=settings.account_id,
    )
    print("      " + summary.lines()[0], flush=True)

    step(
        f"starting Airflow on 127.0.0.1:{airflow_port} (API server, scheduler, DAG processor, "
        f"triggerer; metadata in PostgreSQL on 127.0.0.1:{settings.postgres_port})"
    )
    airflow = LocalAirflow(settings, settings.state_dir / "airflow", airflow_port)
    airflow.init()
    supervisor = Supervisor(registry, restart=airflow.start_component)
    airflow.start(supervisor=supervisor)
    api = AirflowAPI(airflow.url, USER, airflow.password)
    api.wait_for_dags(
        ["lakewatch_extract", "lakewatch_train", *CONSUMERS, "lakewatch_scorer_check"],
        supervisor=supervisor,
    )

    step(f"backfilling lakewatch_extract over {days} days")
    api.unpause("lakewatch_extract")
    api.backfill("lakewatch_extract", start, today - timedelta(days=1))
    runs = api.wait_for_runs(
        "lakewatch_extract", days, timeout=900, settled=True, supervisor=supervisor
    )
    bad = [r["dag_run_id"] for r in runs if r["state"] != "success"]
    if bad:
        raise RuntimeError(f"extract runs did not succeed: {bad} (see the Airflow UI)")

    step(
        "unpausing lakewatch_train: its schedule trains on the window and deploys; the "
        "deployed-model Asset triggers recalibration and the scorer deploy"
    )
    for dag_id in CONSUMERS:
        api.unpause(dag_id)
    began = time.time()
    api.unpause("lakewatch_train")
    train = api.wait_for_runs(
        "lakewatch_train", 1, timeout=1200, since=began - 86400 * 2, supervisor=supervisor
    )
    if train[-1]["state"] != "success":
        raise RuntimeError(
            f"lakewatch_train {train[-1]['dag_run_id']} {train[-1]['state']} (see the Airflow UI)"
        )
    for dag_id in CONSUMERS:
        run = _asset_run(api, dag_id, timeout=900, supervisor=supervisor)
        if run["state"] != "success":
            raise RuntimeError(f"{dag_id} {run['dag_run_id']} {run['state']} (see the Airflow UI)")

    step(f"writing today ({today}) with --notify: the scorer processes it in real time")
    sqs = clients("sqs")
    live = _score_live_day(
        settings, lake, sqs, resources.queue_url, today, start, seed, rows_per_day, supervisor
    )
    print(f"      {live.notified} notifications processed", flush=True)

    step("running the scorer check (canary through the live queue, DLQ, runtime)")
    api.unpause("lakewatch_scorer_check")  # its hourly schedule runs the check at once
    check = api.wait_for_runs("lakewatch_scorer_check", 1, timeout=600, supervisor=supervisor)

    step(
        "showing an alert: recalibrating a night with no extract fails, and on-call hears it "
        "(the DAG's SNS failure notifier, read from a queue subscribed to the alerts topic)"
    )
    read_alerts(sqs)  # anything earlier
    missing = start - timedelta(days=1)
    run_id = api.trigger("lakewatch_recalibrate", logical_date=missing + timedelta(days=1))[
        "dag_run_id"
    ]
    ended = api.wait_for_run("lakewatch_recalibrate", run_id, timeout=300, supervisor=supervisor)
    if ended["state"] != "failed":
        raise RuntimeError(f"recalibrating {missing} (no extract) ended {ended['state']}")
    alerts = _wait_for_alerts(sqs, timeout=120, supervisor=supervisor)
    for alert in alerts:
        print(f"      alert: {alert['subject']}: {alert['message'][:160]}", flush=True)

    more: list[str] = []
    if feedback:
        more = _feedback(
            settings,
            clients,
            api,
            lake,
            resources.queue_url,
            start,
            today,
            seed,
            rows_per_day,
            step,
            supervisor,
        )

    step("writing the report")
    page, lines, kinds = write_report(
        settings,
        clients,
        api,
        settings.state_dir / "report",
        [(start + timedelta(days=d)).isoformat() for d in range(days)],
        today.isoformat(),
    )
    print()
    for line in lines:
        print(line)
    print(f"scorer check: {check[-1]['state']}")
    for line in more:  # before the closing lines, whose form is checked from outside
        print(line)
    print(f"\nAirflow UI: {airflow.url}  (login {USER} / {airflow.password})")
    print("Stop everything the demo started: make down")
    print(f"Report: {page}")
    for line in kinds:
        print(line)
    return 0 if check[-1]["state"] == "success" else 1


def _feedback(
    settings, clients, api, lake, queue_url, start, today, seed, rows_per_day, step, supervisor
) -> list[str]:
    """The analyst in the loop: review today, retrain and recalibrate with the labels the way
    tomorrow night will, score tomorrow, and say what changed."""
    desk = Desk(
        S3Store(clients("s3"), settings.results_bucket_name),
        settings.findings_prefix,
        settings.feedback_prefix,
        lake=S3Store(clients("s3"), settings.lake_bucket_name),
        source_version=settings.source_version,
    )
    truth = read_labels(lake, settings.ground_truth_prefix, day=f"{today:%Y%m%d}")
    review = review_day(desk, today, truth)
    step(
        f"a scripted analyst reviews today: labels {len(review.labelled)} false positives, "
        f"suppresses {1 if review.suppressed else 0} (through the review page's desk)"
    )
    tomorrow = today + timedelta(days=1)
    step(
        "tonight's loop with the labels (lakewatch_train: the false positives join the "
        "training pairs; the recalibration's normal set takes them), then "
        f"{tomorrow} scored in real time"
    )
    began = time.time()
    run_id = api.trigger("lakewatch_train")["dag_run_id"]
    ended = api.wait_for_run("lakewatch_train", run_id, timeout=1200, supervisor=supervisor)
    if ended["state"] != "success":
        raise RuntimeError(f"lakewatch_train {run_id} {ended['state']} (see the Airflow UI)")
    for dag_id in CONSUMERS:
        run = _asset_run(api, dag_id, timeout=900, supervisor=supervisor, since=began)
        if run["state"] != "success":
            raise RuntimeError(f"{dag_id} {run['dag_run_id']} {run['state']} (see the Airflow UI)")
    _score_live_day(
        settings, lake, clients("sqs"), queue_url, tomorrow, start, seed, rows_per_day, supervisor
    )
    return feedback_lines(
        review,
        desk.findings(today),
        truth,
        desk.findings(tomorrow),
        read_labels(lake, settings.ground_truth_prefix, day=f"{tomorrow:%Y%m%d}"),
    )
