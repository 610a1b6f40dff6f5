"""The load test: notifications at a steady rate, the backlog sampled, every one accounted for.

1. **Plan.** ``count`` notifications, ``bad`` of them deliberately bad and spread evenly among
   the rest, one of each kind in turn: an object that does not exist (retried, then
   dead-lettered on its last receive), a corrupt object, a bucket outside the lake, a message
   that is no notification. Each good one names an object of its own: a copy of one of the
   stack's objects under a key of its own, so the scorer's record of it names it alone.
2. **Warm up.** One notification first, untimed, until the scorer reports it: the sandbox's
   start and imports (a cold start) are not the sustained rate.
3. **Send** at ``rate`` per second, one ``SendMessage`` each on a fixed schedule, until all are
   sent or ``max_seconds`` have passed; a thread samples the subscriber queue
   (ApproximateNumberOfMessages and ...NotVisible) and the DLQ every ``sample_s`` and reads
   the scorer's log as it grows.
4. **Drain**: wait until the queue is empty (two samples in a row), at most ``drain_s``.
5. **Account.** A notification is *scored* when the handler's ``scored`` record names its
   object (its rows, pairs, anomalies and findings file), *dead-lettered* when the DLQ holds
   it (matched by the source message id the handler records, else by its body) with the
   ``lakewatch-error`` reason; anything else is *unaccounted*. A good notification
   dead-lettered, or a bad one scored, is *unexpected*.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from lakewatch.aws.clients import ClientFactory
from lakewatch.lake.notify import object_created
from lakewatch.loadtest.report import write_report
from lakewatch.loadtest.stack import LakeObject, Stack, StackOptions
from lakewatch.scoring.events import ObjectRef
from lakewatch.scoring.process import Scorer
from lakewatch.settings import Settings

BAD_KINDS = ("missing", "corrupt", "foreign", "malformed")
FOREIGN_BUCKET = "lakewatch-loadtest-not-the-lake"
WARM_UP_S = 180.0  # the most a cold start may take
DEPTH_ATTRIBUTES = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]


@dataclass
class Notification:
    index: int
    kind: str  # "object" or one of BAD_KINDS
    body: str
    key: str = ""
    message_id: str = ""
    sent_at: float = 0.0  # epoch seconds; 0: not sent
    outcome: str = ""  # scored | dead-lettered | skipped | "" (unaccounted)
    reason: str = ""  # the DLQ's lakewatch-error, or why it was skipped
    done_at: float = 0.0  # when the scorer reported it (scored)
    rows: int = 0
    pairs: int = 0
    anomalies: int = 0
    findings: str = ""

    @property
    def expected(self) -> str:
        return "scored" if self.kind == "object" else "dead-lettered"


@dataclass
class Sample:
    t: float  # seconds since the first timed send
    visible: int
    in_flight: int
    dlq: int
    sent: int
    scored: int

    @property
    def backlog(self) -> int:
        return self.visible + self.in_flight


@dataclass
class Outcome:
    rate: float
    count: int
    max_seconds: float
    notifications: list[Notification]
    samples: list[Sample] = field(default_factory=list)
    started_at: float = 0.0  # epoch seconds of the first timed send
    send_seconds: float = 0.0
    drain_seconds: float = 0.0
    drained: bool = False
    warm_up_s: float = 0.0
    objects: int = 0  # distinct lake objects the copies are of
    sample_errors: int = 0  # samples the emulator did not answer (none expected)
    baseline: dict[str, float] | None = None  # the same objects scored in-process

    @property
    def sent(self) -> list[Notification]:
        return [n for n in self.notifications if n.sent_at]

    def of(self, outcome: str) -> list[Notification]:
        return [n for n in self.sent if n.outcome == outcome]

    @property
    def unaccounted(self) -> list[Notification]:
        return [n for n in self.sent if not n.outcome]

    @property
    def unexpected(self) -> list[Notification]:
        return [n for n in self.sent if n.outcome and n.outcome != n.expected]

    @property
    def span_s(self) -> float:
        """From the first timed send to the last object scored."""
        done = [n.done_at for n in self.of("scored")]
        return max(done) - self.started_at if done else 0.0

    @property
    def objects_per_s(self) -> float:
        return len(self.of("scored")) / self.span_s if self.span_s > 0 else 0.0

    @property
    def rows_per_s(self) -> float:
        return sum(n.rows for n in self.of("scored")) / self.span_s if self.span_s > 0 else 0.0

    @property
    def offered_per_s(self) -> float:
        sent = sorted(n.sent_at for n in self.sent)
        return (len(sent) - 1) / (sent[-1] - sent[0]) if len(sent) > 1 else 0.0

    @property
    def peak_backlog(self) -> int:
        return max((s.backlog for s in self.samples), default=0)

    def latencies(self) -> np.ndarray:
        """Seconds from sending a good notification to the scorer reporting its object."""
        return np.array([n.done_at - n.sent_at for n in self.of("scored")])

    def reasons(self) -> Counter:
        return Counter(reason_class(n.reason) for n in self.of("dead-lettered"))

    @property
    def ok(self) -> bool:
        return bool(self.sent) and not self.unaccounted and not self.unexpected

    def summary(self) -> dict[str, Any]:
        lat = self.latencies()
        return {
            "rate": self.rate,
            "count": self.count,
            "max_seconds": self.max_seconds,
            "offered_per_s": round(self.offered_per_s, 3),
            "sent": len(self.sent),
            "scored": len(self.of("scored")),
            "dead_lettered": len(self.of("dead-lettered")),
            "skipped": len(self.of("skipped")),
            "unaccounted": len(self.unaccounted),
            "unexpected": len(self.unexpected),
            "reasons": dict(self.reasons()),
            "objects_per_s": round(self.objects_per_s, 3),
            "rows_per_s": round(self.rows_per_s, 1),
            "rows_scored": sum(n.rows for n in self.of("scored")),
            "distinct_objects": self.objects,
            "span_s": round(self.span_s, 3),
            "send_seconds": round(self.send_seconds, 3),
            "drain_seconds": round(self.drain_seconds, 3),
            "drained": self.drained,
            "warm_up_s": round(self.warm_up_s, 3),
            "peak_backlog": self.peak_backlog,
            "latency_s": {
                "p50": round(float(np.percentile(lat, 50)), 3) if lat.size else None,
                "p95": round(float(np.percentile(lat, 95)), 3) if lat.size else None,
                "max": round(float(lat.max()), 3) if lat.size else None,
            },
            "sample_errors": self.sample_errors,
            "baseline": self.baseline,
            "samples": [asdict(s) for s in self.samples],
            "notifications": [
                {k: v for k, v in asdict(n).items() if k != "body"} for n in self.notifications
            ],
        }

    def lines(self) -> list[str]:
        """The closing lines: each dead letter's reason, then the figures."""
        out = [
            f"dead letter: {n.kind} {n.key or '(no key)'}: {n.reason or '(no reason)'}"
            for n in self.of("dead-lettered")[:20]
        ]
        out += [
            f"unexpected: {n.kind} {n.key or '(no key)'} {n.outcome} ({n.reason})"
            for n in self.unexpected[:20]
        ]
        lat = self.latencies()
        out.append(
            f"offered: {self.offered_per_s:.2f} notifications/s ({len(self.sent)} of "
            f"{self.count} sent in {self.send_seconds:.1f}s; target {self.rate:g}/s)"
        )
        out.append(
            f"sustained: {self.objects_per_s:.2f} objects/s, {self.rows_per_s:,.0f} rows/s "
            f"(over {self.span_s:.1f}s from the first send to the last object scored)"
        )
        if lat.size:
            out.append(
                f"latency: p50 {np.percentile(lat, 50):.2f}s, p95 {np.percentile(lat, 95):.2f}s, "
                f"max {lat.max():.2f}s (sent to scored)"
            )
        if self.baseline:
            b = self.baseline
            ratio = self.objects_per_s / b["objects_per_s"] if b["objects_per_s"] else 0.0
            out.append(
                f"in-process: {b['objects_per_s']:.2f} objects/s, {b['rows_per_s']:,.0f} rows/s "
                f"(the same objects, no queue or poller); the queue's path {ratio:.2f}x"
            )
        out.append(
            f"backlog: peak {self.peak_backlog} messages ({len(self.samples)} samples; "
            f"{'drained' if self.drained else 'NOT drained'} {self.drain_seconds:.1f}s after "
            "the last send)"
        )
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(self.reasons().items()))
        skipped = len(self.of("skipped"))
        out.append(
            f"notifications: {len(self.sent)} sent, {len(self.of('scored'))} scored, "
            f"{len(self.of('dead-lettered'))} dead-lettered (reasons: {reasons or 'none'}), "
            + (f"{skipped} skipped, " if skipped else "")
            + f"{len(self.unaccounted)} unaccounted"
            + (f", {len(self.unexpected)} unexpected" if self.unexpected else "")
        )
        return out


_REASONS = (
    (re.compile(r"gave up after (\d+) receives: .*does not exist"), "object missing, gave up"),
    (re.compile(r"cannot read as Parquet"), "cannot read as Parquet"),
    (re.compile(r"is not the Security Lake bucket"), "bucket not the lake's"),
    (re.compile(r"not a Security Lake notification"), "not a notification"),
    (re.compile(r"cannot parse the message"), "cannot parse the message"),
)


def reason_class(reason: str) -> str:
    """A dead letter's reason, short and without its object (the summary's counts)."""
    if not reason:
        return "moved by the queue's redrive policy (no reason)"
    for pattern, label in _REASONS:
        if pattern.search(reason):
            return label
    return re.sub(r"s3://\S+", "s3://…", reason)[:80]


# planning -----------------------------------------------------------------------------------


def plan(stack: Stack, count: int, bad: int) -> list[Notification]:
    """``count`` notifications, ``bad`` of them bad (evenly spread), each good one naming an
    object of its own: a server-side copy of one of the stack's objects."""
    if count < 1 or not 0 <= bad <= count:
        raise ValueError("--count must be at least 1 and --bad between 0 and --count")
    bad_at = {int((i + 0.5) * count / bad) for i in range(bad)} if bad else set()
    s3, lake = stack.clients("s3"), stack.lake_bucket
    region, account = stack.settings.region, stack.settings.account_id
    out: list[Notification] = []
    folder = stack.objects[0].key.rsplit("/", 1)[0]
    for i in range(count):
        if i in bad_at:
            kind = BAD_KINDS[len([n for n in out if n.kind != "object"]) % len(BAD_KINDS)]
            out.append(_bad(stack, i, kind, folder))
            continue
        source = stack.objects[i % len(stack.objects)]
        key = copy_key(source.key, f"lt{i:06d}")
        s3.copy_object(Bucket=lake, Key=key, CopySource={"Bucket": lake, "Key": source.key})
        body = object_created(lake, key, source.size, f"loadtest-{i}", region, account)
        out.append(Notification(i, "object", json.dumps(body), key=key))
    return out


def copy_key(key: str, tag: str) -> str:
    """``.../<name>.gz.parquet`` -> ``.../<name>-<tag>.gz.parquet``: the same partition."""
    folder, name = key.rsplit("/", 1)
    stem = name.removesuffix(".gz.parquet")
    return f"{folder}/{stem}-{tag}.gz.parquet"


def _bad(stack: Stack, i: int, kind: str, folder: str) -> Notification:
    lake, region, account = stack.lake_bucket, stack.settings.region, stack.settings.account_id
    key = f"{folder}/loadtest-{kind}-{i:06d}.gz.parquet"
    if kind == "malformed":
        return Notification(i, kind, json.dumps({"loadtest": i, "not": "a notification"}))
    if kind == "corrupt":
        stack.clients("s3").put_object(Bucket=lake, Key=key, Body=b"not parquet at all")
    bucket = FOREIGN_BUCKET if kind == "foreign" else lake
    body = object_created(bucket, key, 18, f"loadtest-{i}", region, account)
    return Notification(i, kind, json.dumps(body), key=key)


# the scorer's own record ---------------------------------------------------------------------


class ScorerLog:
    """The scorer runtime's log read as it grows: the handler's JSON records (powertools'
    Logger) of each object it scored or skipped."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0
        self._partial = ""

    def records(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with open(self.path, encoding="utf-8", errors="replace") as f:
            f.seek(self.offset)
            text = self._partial + f.read()
            self.offset = f.tell()
        lines = text.split("\n")
        self._partial = lines.pop()  # a line still being written
        out = []
        for line in lines:
            if not line.startswith("{"):
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("message") in ("scored", "skipped"):
                record["_at"] = log_time(record.get("timestamp"))
                out.append(record)
        return out


def log_time(stamp: Any) -> float:
    """powertools' ``2026-12-07 14:30:00,123+0000`` as epoch seconds; now when unreadable."""
    try:
        return datetime.strptime(str(stamp), "%Y-%m-%d %H:%M:%S,%f%z").timestamp()
    except ValueError:
        return time.time()


# the run --------------------------------------------------------------------------------------


class LoadTest:
    def __init__(
        self,
        stack: Stack,
        *,
        rate: float,
        count: int,
        max_seconds: float,
        bad: int = 4,
        drain_s: float = 120.0,
        sample_s: float = 0.25,
        progress_s: float = 5.0,
        log: Callable[[str], None] = print,
    ):
        if rate <= 0 or max_seconds <= 0 or drain_s <= 0 or sample_s <= 0:
            raise ValueError("--rate, --max-seconds, --drain-seconds and the interval must be > 0")
        self.stack, self.rate, self.count, self.bad = stack, rate, count, bad
        self.max_seconds, self.drain_s, self.sample_s = max_seconds, drain_s, sample_s
        self.progress_s, self.log = progress_s, log
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def run(self) -> Outcome:
        notes = plan(self.stack, self.count, self.bad)
        outcome = Outcome(self.rate, self.count, self.max_seconds, notes)
        outcome.objects = len(self.stack.objects)
        self.by_key = {n.key: n for n in notes if n.kind == "object"}
        self.scorer_log = ScorerLog(self.stack.scorer_log)
        outcome.warm_up_s = self._warm_up()
        # the sampler's own clients: boto3 sessions are not shared between threads
        sampler = threading.Thread(
            target=self._sample, args=(self.stack.local_backend.clients(), outcome), daemon=True
        )
        sqs = self.stack.clients("sqs")
        outcome.started_at, self._t0_mono = time.time(), time.monotonic()
        sampler.start()
        try:
            outcome.send_seconds = self._send(sqs, notes)
            last_send = time.monotonic()
            outcome.drained = self._drain(outcome, last_send)
            outcome.drain_seconds = time.monotonic() - last_send
        finally:
            self._stop.set()
            sampler.join(timeout=10)
        self._read_log()
        self._dead_letters(sqs, notes)
        return outcome

    def _warm_up(self) -> float:
        """One object through the whole path first, untimed: the function's cold start."""
        s3, lake = self.stack.clients("s3"), self.stack.lake_bucket
        source: LakeObject = self.stack.objects[0]
        key = copy_key(source.key, "warmup")
        s3.copy_object(Bucket=lake, Key=key, CopySource={"Bucket": lake, "Key": source.key})
        body = object_created(
            lake,
            key,
            source.size,
            "warmup",
            self.stack.settings.region,
            self.stack.settings.account_id,
        )
        started = time.monotonic()
        self.stack.clients("sqs").send_message(
            QueueUrl=self.stack.queue_url, MessageBody=json.dumps(body)
        )
        while time.monotonic() - started < WARM_UP_S:
            if any(r.get("key") == key for r in self.scorer_log.records()):
                seconds = time.monotonic() - started
                self.log(f"warm: the scorer reported its first object after {seconds:.1f}s")
                return seconds
            time.sleep(0.2)
        raise TimeoutError(
            f"the scorer did not report the warm-up object within {WARM_UP_S:.0f}s (its log: "
            f"{self.stack.scorer_log})"
        )

    def _send(self, sqs: Any, notes: list[Notification]) -> float:
        """One SendMessage each on a fixed schedule (i / rate after the start), until all are
        sent or ``max_seconds`` have passed; returns the seconds it took."""
        start = time.monotonic()
        for i, n in enumerate(notes):
            due = start + i / self.rate
            if due - start > self.max_seconds:
                break
            while (wait := due - time.monotonic()) > 0:
                time.sleep(min(wait, 0.05))
            if time.monotonic() - start > self.max_seconds:
                break
            # stamped before the call: the scorer may take the message before SendMessage
            # returns (a slow reply under load), and latency counts from the request
            sent_at = time.time()
            resp = sqs.send_message(QueueUrl=self.stack.queue_url, MessageBody=n.body)
            with self._lock:
                n.message_id, n.sent_at = resp["MessageId"], sent_at
        return time.monotonic() - start

    def _drain(self, outcome: Outcome, last_send: float) -> bool:
        """Wait until two samples in a row after the last send show an empty queue."""
        while time.monotonic() - last_send < self.drain_s:
            time.sleep(self.sample_s)
            with self._lock:
                after = [s for s in outcome.samples if s.t >= last_send - self._t0_mono]
            if len(after) >= 2 and after[-1].backlog == 0 and after[-2].backlog == 0:
                return True
        return False

    def _sample(self, clients: ClientFactory, outcome: Outcome) -> None:
        sqs = clients("sqs")
        next_progress = self._t0_mono + self.progress_s
        while not self._stop.is_set():
            now = time.monotonic()
            try:
                depth = sqs.get_queue_attributes(
                    QueueUrl=self.stack.queue_url, AttributeNames=DEPTH_ATTRIBUTES
                )["Attributes"]
                dlq = sqs.get_queue_attributes(
                    QueueUrl=self.stack.dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
                )["Attributes"]
                self._read_log()
            except Exception as err:  # a missed sample, counted; the next one is on time
                outcome.sample_errors += 1
                if outcome.sample_errors == 1:
                    self.log(f"a queue sample failed: {type(err).__name__}: {err}")
                self._stop.wait(self.sample_s)
                continue
            with self._lock:
                sample = Sample(
                    t=round(now - self._t0_mono, 3),
                    visible=int(depth["ApproximateNumberOfMessages"]),
                    in_flight=int(depth["ApproximateNumberOfMessagesNotVisible"]),
                    dlq=int(dlq["ApproximateNumberOfMessages"]),
                    sent=sum(1 for n in outcome.notifications if n.sent_at),
                    scored=sum(1 for n in outcome.notifications if n.outcome == "scored"),
                )
                outcome.samples.append(sample)
            if now >= next_progress:
                next_progress = now + self.progress_s
                self.log(
                    f"t={sample.t:.0f}s sent {sample.sent}/{self.count}, scored {sample.scored}, "
                    f"backlog {sample.backlog} ({sample.in_flight} in flight), DLQ {sample.dlq}"
                )
            self._stop.wait(max(0.0, self.sample_s - (time.monotonic() - now)))

    def _read_log(self) -> None:
        for record in self.scorer_log.records():
            n = self.by_key.get(str(record.get("key", "")))
            if n is None:
                continue
            with self._lock:
                if record["message"] == "skipped":
                    n.outcome, n.reason = "skipped", str(record.get("reason", ""))
                    continue
                n.outcome, n.done_at = "scored", float(record["_at"])
                n.rows, n.pairs = int(record.get("rows", 0)), int(record.get("pairs", 0))
                n.anomalies, n.findings = (
                    int(record.get("anomalies", 0)),
                    str(record.get("findings", "")),
                )

    def _dead_letters(self, sqs: Any, notes: list[Notification]) -> None:
        """Every message in the DLQ, matched to its notification (the source message id the
        handler records with it, else the body: the queue's own redrive keeps the body)."""
        by_id = {n.message_id: n for n in notes if n.message_id}
        by_body = {n.body: n for n in notes if n.message_id}
        for _ in range(10_000):  # bounded: 10 at a time, each hidden once received
            got = sqs.receive_message(
                QueueUrl=self.stack.dlq_url,
                MaxNumberOfMessages=10,
                MessageAttributeNames=["All"],
                VisibilityTimeout=300,
                WaitTimeSeconds=0,
            ).get("Messages", [])
            if not got:
                return
            for m in got:
                attrs = m.get("MessageAttributes", {})
                source = attrs.get("lakewatch-source-message-id", {}).get("StringValue", "")
                n = by_id.get(source) or by_body.get(m["Body"])
                if n is not None:
                    n.outcome = "dead-lettered"
                    n.reason = attrs.get("lakewatch-error", {}).get("StringValue", "")


def score_directly(stack: Stack, notes: list[Notification]) -> dict[str, float]:
    """The baseline: the same objects scored in this process by the handler's ``Scorer``,
    one after another, with no queue, poller or sandbox (warm: one object first, untimed)."""
    scorer = Scorer(stack.scorer_config(), stack.clients)
    keys = [n.key for n in notes if n.kind == "object" and n.outcome == "scored"]
    if not keys:
        return {"objects_per_s": 0.0, "rows_per_s": 0.0, "objects": 0, "seconds": 0.0}
    lake = stack.lake_bucket
    scorer.process_object(ObjectRef(lake, keys[0], None, "eventbridge"))
    rows = 0
    started = time.perf_counter()
    for key in keys:
        rows += scorer.process_object(ObjectRef(lake, key, None, "eventbridge")).rows
    seconds = time.perf_counter() - started
    return {
        "objects_per_s": len(keys) / seconds,
        "rows_per_s": rows / seconds,
        "objects": len(keys),
        "seconds": seconds,
    }


@dataclass(frozen=True)
class LoadTestOptions:
    rate: float
    count: int
    max_seconds: float
    out: Path
    bad: int = 4
    drain_s: float = 120.0
    sample_s: float = 0.25
    baseline: bool = False  # also score the same objects in-process (``score_directly``)
    stack: StackOptions = field(default_factory=StackOptions)

    def __post_init__(self) -> None:
        """Refused before a process starts."""
        if self.count < 1 or not 0 <= self.bad <= self.count:
            raise ValueError("--count must be at least 1 and --bad between 0 and --count")
        if min(self.rate, self.max_seconds, self.drain_s, self.sample_s) <= 0:
            raise ValueError("--rate, --max-seconds, --drain-seconds and the interval must be > 0")
        if self.stack.visibility_timeout_s < 1 or self.stack.max_receive_count < 1:
            raise ValueError("--visibility-timeout and --max-receives must be at least 1")


def run_load_test(
    settings: Settings, options: LoadTestOptions, log: Callable[[str], None] = print
) -> Outcome:
    """The stack up, the load test, the baseline when asked, the stack down; then the
    report (``summary.json``, ``report.html``, ``backlog.png`` under ``options.out``)."""
    with Stack(settings, options.out, options.stack, log) as stack:
        outcome = LoadTest(
            stack,
            rate=options.rate,
            count=options.count,
            max_seconds=options.max_seconds,
            bad=options.bad,
            drain_s=options.drain_s,
            sample_s=options.sample_s,
            log=log,
        ).run()
        if options.baseline:
            outcome.baseline = score_directly(stack, outcome.notifications)
    write_report(outcome, options.out)
    return outcome
