"""``lakewatch backtest``: the whole loop over a copy of a Security Lake, without Airflow.

extract (the project's SQL on DuckDB) -> export -> train (``lakewatch_train``'s defaults) ->
deploy and smoke-check -> recalibrate (``lakewatch_recalibrate``'s steps, for ``--fpr``) ->
score every object of the score days through the scorer's own code, in object time order.
Each step is the function the DAG task or the Lambda calls, on a private emulator
(``workspace.py``); the lake is only read. Memory follows the largest object and the model:
training days are extracted one at a time, score-day objects scored one at a time, findings
streamed to disk.
"""

from __future__ import annotations

import heapq
import json
import re
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import pyarrow.parquet as pq

from lakewatch.backtest import report
from lakewatch.backtest.evaluate import TruthTally, kind_of
from lakewatch.backtest.extract import extract_day, read_object
from lakewatch.backtest.lake import LakeError, LakeIndex, LakeObject, check_days, index_lake
from lakewatch.backtest.progress import Stage
from lakewatch.backtest.workspace import Workspace, lake_settings
from lakewatch.extract.engine import LakeLocation
from lakewatch.extract.export import PairSet
from lakewatch.extract.views import configured_views
from lakewatch.lake.security_hub import Evidence, evidence_in
from lakewatch.lake.truth import TruthRow, read_truth
from lakewatch.names import threshold_night_prefix
from lakewatch.review.rows import Row, rank, row_of
from lakewatch.scoring.errors import PoisonMessage
from lakewatch.scoring.process import ObjectResult, Scorer, ScorerConfig, scored_sources
from lakewatch.serving import deploy as serving
from lakewatch.threshold import recalibrate
from lakewatch.threshold.publish import ThresholdRecord, publish
from lakewatch.training import pipeline
from lakewatch.training.detector import publish_detector

STAGES = 5
SMOKE_MIN_AUC = 0.8  # lakewatch_train's default


class BacktestError(RuntimeError):
    """The loop could not be run on this lake (the message says which step and why)."""


@dataclass(frozen=True)
class BacktestOptions:
    lake: str
    train_days: list[date]
    score_days: list[date]
    out: Path
    truth: Path | None = None
    fpr: float = 0.001
    seed: int = 0
    hyperparameters: dict[str, Any] = field(default_factory=dict)  # as the DAG's params


@dataclass
class Outcome:
    """What the backtest found and measured: ``summary.json``."""

    lake: str
    train_days: list[str]
    score_days: list[str]
    rows: dict[str, int] = field(default_factory=dict)
    objects: dict[str, int] = field(default_factory=dict)
    pairs: dict[str, int] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    threshold: dict[str, Any] = field(default_factory=dict)
    findings: dict[str, int] = field(default_factory=dict)
    incidents: int = 0
    findings_by_day: dict[str, dict[str, int]] = field(default_factory=dict)
    elapsed_s: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    truth: dict[str, Any] | None = None
    top: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def open_lake(uri: str) -> LakeLocation:
    """The lake, read-only: a folder, or S3 with the user's own settings and credentials."""
    if uri.startswith("s3://"):
        from lakewatch.backends import clients_for

        settings = lake_settings()
        return LakeLocation.open(uri, clients_for(settings), settings.region)
    if "://" in uri:
        raise LakeError(f"--lake {uri!r}: use a folder or s3://bucket[/prefix]")
    folder = Path(uri).resolve()
    if not folder.is_dir():
        raise LakeError(f"--lake {uri}: no such folder")
    return LakeLocation.open(str(folder))


def source_uri(lake: str, obj: LakeObject) -> str:
    """Where the finding says its object is: the lake's own address of it."""
    if lake.startswith("s3://"):
        return f"{lake.rstrip('/')}/{obj.key.key}"
    return Path(obj.path).resolve().as_uri()


def run_backtest(options: BacktestOptions, out: TextIO | None = None) -> Outcome:
    out = out or sys.stdout
    truth = read_truth(options.truth) if options.truth else None
    location = open_lake(options.lake)
    stage = Stage(1, STAGES, f"reading {options.lake}", out)
    pair_set = PairSet(configured_views(lake_settings().pair_views))
    index = index_lake(location, options.lake, scored_sources(pair_set.key))
    check_days(index, options.train_days, options.score_days)
    outcome = Outcome(
        options.lake,
        [d.isoformat() for d in options.train_days],
        [d.isoformat() for d in options.score_days],
    )
    stage.say(
        f"{' and '.join(index.scored)} on {_span(index.days())} "
        f"in {len(index.regions())} region(s); "
        f"skipped: {', '.join(sorted(index.skipped_by_reason())) or 'nothing'}"
    )
    outcome.elapsed_s["read"] = stage.elapsed
    with tempfile.TemporaryDirectory(prefix="lakewatch-backtest-") as work:
        with Workspace(Path(work), _region(index)) as ws:
            loop = _Loop(ws, location, index, options, outcome, out, pair_set)
            loop.run()
            findings_path = loop.findings_path
            picture = loop.picture
        _publish_outputs(options, outcome, location, index, findings_path, picture, truth, out)
    return outcome


def _span(days: list[date]) -> str:
    from lakewatch.backtest.lake import spans

    return spans(days)


def _region(index: LakeIndex) -> str:
    """The lake's most common region: the extracts' and the findings' default."""
    return index.regions().most_common(1)[0][0]


class _Loop:
    """The loop's stages on one workspace, filling ``outcome``."""

    def __init__(
        self,
        ws: Workspace,
        location: LakeLocation,
        index: LakeIndex,
        options: BacktestOptions,
        outcome: Outcome,
        out: TextIO,
        pair_set: PairSet,
    ):
        self.ws, self.location, self.index = ws, location, index
        self.options, self.outcome, self.out = options, outcome, out
        self.pair_set = pair_set  # LAKEWATCH_PAIR_VIEWS's, as the DAGs' (signin reads CloudTrail)
        self.findings_path = ws.work_dir / "findings.jsonl"
        self.picture: bytes | None = None

    def run(self) -> None:
        self.extract()
        record = self.train()
        threshold = self.recalibrate()
        self.score(record.model_id, threshold)

    # 2 ------------------------------------------------------------------------------------

    def extract(self) -> None:
        days = self.options.train_days
        stage = Stage(2, STAGES, f"extracting {len(days)} training days (DuckDB)", self.out)
        store, pairs = self._store(), 0
        rows: list[int] = []
        for n, day in enumerate(days, 1):
            objects = self.index.on(day)
            self.outcome.objects.update(Counter(o.key.source for o in objects))
            summary = extract_day(
                self.ws.settings,
                store,
                self.location,
                objects,
                day,
                self.pair_set,
                self.outcome.skipped,
                rows,
            )
            pairs += summary.rows
            stage.step(n, len(days), "days", f"{pairs:,} pairs")
        self.outcome.rows["train"] = sum(rows)
        self.outcome.pairs["train"] = pairs
        stage.say(f"{sum(rows):,} records -> {pairs:,} pairs")
        self.outcome.elapsed_s["extract"] = stage.elapsed

    def _store(self):
        from lakewatch.extract.daily import results_store

        return results_store(self.ws.settings, self.ws.clients)

    # 3 ------------------------------------------------------------------------------------

    def train(self):
        ws = self.ws
        stage = Stage(3, STAGES, "training IP Insights (lakewatch_train's defaults)", self.out)
        end = self.options.train_days[-1] + timedelta(days=1)
        options = pipeline.TrainOptions(
            window_days=len(self.options.train_days),
            views=self.pair_set.views,
            hyperparameters={
                **pipeline.default_hyperparameters(),
                "seed": self.options.seed,
                **self.options.hyperparameters,
            },
        )
        try:
            plan = pipeline.plan(ws.settings, ws.clients, end, options)
        except Exception as err:  # NotEnoughData, with the reason
            raise BacktestError(f"training: {err}") from None
        doc = plan.to_json()
        doc.setdefault("algorithm", "lakewatch")
        lines: list[str] = []
        local = pipeline.train_local(
            ws.settings, ws.clients, doc, log=_epochs(stage, doc["hyperparameters"], lines)
        )
        metrics = pipeline.local_metrics(local.get("stats") or {})
        record = pipeline.register(
            ws.settings, ws.clients, doc, "lakewatch", local["artifact"], metrics
        )
        serving.deploy(ws.settings, ws.clients, record, ws.hosting)
        publish_detector(ws.settings, ws.clients, record, log=lines.append)
        entities, addresses = pipeline.validation_sample(ws.settings, ws.clients, doc)
        smoke = serving.smoke(ws.settings, ws.clients, entities, addresses, SMOKE_MIN_AUC)
        auc = metrics.get("validation:discriminator_auc")
        self.outcome.model = {
            "model_id": record.model_id,
            "train_rows": doc["train_rows"],
            "validation_rows": doc["validation_rows"],
            "validation_auc": auc,
            "smoke_auc": smoke.auc,
            "hyperparameters": doc["hyperparameters"],
        }
        stage.say(
            f"model {record.model_id}: {doc['train_rows']:,} training pairs, validation AUC "
            + (f"{auc:.3f}" if isinstance(auc, float) else "n/a")
            + f", smoke check AUC {smoke.auc:.3f}"
        )
        self.outcome.elapsed_s["train"] = stage.elapsed
        return record

    # 4 ------------------------------------------------------------------------------------

    def recalibrate(self) -> ThresholdRecord:
        ws = self.ws
        night = self.options.train_days[-1]
        stage = Stage(
            4, STAGES, f"recalibrating for {self.options.fpr:.3%} false positives", self.out
        )
        opts = recalibrate.Options(target_fpr=self.options.fpr)
        refused = ""
        try:
            prepared = recalibrate.prepare(ws.settings, ws.clients, night, opts)
            scored = recalibrate.score(ws.settings, ws.clients, night, prepared["sets"])
            recalibrate.choose(ws.settings, ws.clients, night, scored["scores"], opts, "backtest")
            record = recalibrate.publish_record(ws.settings, ws.clients, night)
        except recalibrate.Refused as err:
            refused, record = str(err), self._publish_refused(night)
        except recalibrate.NOT_RETRYABLE as err:
            raise BacktestError(f"recalibration: {err}") from None
        for line in recalibrate.summary_lines(record)[:2]:
            stage.say(line)
        if refused:
            stage.say(
                f"REFUSED by the gate ({'; '.join(record.refused)}): lakewatch_recalibrate would "
                "not publish it and the scorer would wait for a threshold; scored with it anyway"
            )
        self.picture = _stored(ws, record.picture_uri)
        self.outcome.threshold = {
            "threshold": record.threshold,
            "score": record.score,
            "target_fpr": record.target_fpr,
            "fpr": record.evaluation["chosen"]["fpr"],
            "fpr_low": record.evaluation["chosen"].get("fpr_low"),
            "fpr_high": record.evaluation["chosen"].get("fpr_high"),
            "recall_synthetic": record.evaluation["chosen"]["recall"],
            "auc": record.evaluation["auc"],
            "sets": record.sets,
            "view_offsets": record.view_offsets,  # the signin view's own threshold among them
            "notes": record.notes,
            "refused": record.refused,
        }
        self.outcome.elapsed_s["recalibrate"] = stage.elapsed
        return record

    def _publish_refused(self, night: date) -> ThresholdRecord:
        """The night's refused record, published all the same: a backtest shows what the
        threshold would have found, and says the gate refused it (``summary.json``)."""
        ws = self.ws
        key = (
            f"{threshold_night_prefix(ws.settings.thresholds_prefix, night.isoformat())}record.json"
        )
        record = ThresholdRecord(**json.loads(self._store().get(key)))
        record.version = publish(ws.clients("ssm"), ws.settings.threshold_parameter, record)
        return record

    # 5 ------------------------------------------------------------------------------------

    def score(self, model_id: str, threshold: ThresholdRecord) -> None:
        objects = self._score_objects()
        self.outcome.objects.update(Counter(o.key.source for o in objects))
        stage = Stage(5, STAGES, f"scoring {len(objects):,} objects in time order", self.out)
        scorer = Scorer(self._scorer_config(model_id), self.ws.clients)
        counts: Counter[str] = Counter()
        with self.findings_path.open("w") as sink:
            for n, obj in enumerate(objects, 1):
                for f in self._score_one(scorer, obj, counts):
                    sink.write(json.dumps(f) + "\n")
                stage.step(n, len(objects), "objects", f"{counts['findings']:,} findings")
        self.outcome.rows["score"] = counts["rows"]
        self.outcome.pairs["score"] = counts["pairs"]
        self.outcome.elapsed_s["score"] = stage.elapsed

    def _scorer_config(self, model_id: str) -> ScorerConfig:
        s = self.ws.settings
        return ScorerConfig(
            endpoint_name=s.endpoint_name,
            threshold_parameter=s.threshold_parameter,
            results_bucket=s.results_bucket_name,
            region=s.region,
            pairs=self.pair_set.key,
            findings_prefix=s.findings_prefix,
            feedback_prefix=s.feedback_prefix,
            models_prefix=s.models_prefix,
            canary_prefix=s.canary_prefix,
        )

    def _score_objects(self) -> list[LakeObject]:
        days = set(self.options.score_days)
        objects = [o for day in sorted(days) for o in self.index.on(day)]
        return sorted(objects, key=lambda o: (_first_time(self.location, o), o.path))

    def _score_one(
        self, scorer: Scorer, obj: LakeObject, counts: Counter[str]
    ) -> list[dict[str, Any]]:
        """One object through the scorer's processing; a bad one is skipped with the reason."""
        result = ObjectResult(self.options.lake, obj.key.key)
        try:
            scored = scorer.score_object(
                read_object(self.location, obj), obj.key, self.options.lake, result
            )
        except (PoisonMessage, OSError) as err:
            self.outcome.skipped[obj.uri] = str(err)
            return []
        counts["rows"] += result.rows
        counts["pairs"] += result.pairs
        counts["findings"] += len(scored.findings)
        uri = source_uri(self.options.lake, obj)
        for f in scored.findings:  # the lake's own address of the object, not a bucket's
            f["finding_info"]["data_sources"] = [uri]
            f["unmapped"]["lakewatch.source_object"] = uri
        return scored.findings


def _epochs(stage: Stage, hyperparameters: dict[str, Any], lines: list[str]):
    """The trainer's log as the stage's bar: one step per ``#quality_metric`` epoch line."""
    epochs = int(hyperparameters.get("epochs") or 1)

    def log(line: str) -> None:
        lines.append(line)
        found = re.match(r"#quality_metric: epoch=(\d+), .*?pairs/s=([\d,]+)", line)
        if found:
            stage.step(int(found[1]), epochs, "epochs", f"{found[2]} pairs/s")

    return log


def _stored(ws: Workspace, uri: str) -> bytes | None:
    from lakewatch.aws.s3 import S3Uri

    if not uri.startswith("s3://"):
        return None
    where = S3Uri.parse(uri)
    return ws.clients("s3").get_object(Bucket=where.bucket, Key=where.key)["Body"].read()


def _first_time(location: LakeLocation, obj: LakeObject) -> int:
    """The object's earliest event time from its Parquet statistics (its day's start when the
    footer has none): objects are scored in the order their events happened."""
    fallback = int(datetime.combine(obj.key.day, datetime.min.time(), UTC).timestamp() * 1000)
    try:
        with location.filesystem.open_input_file(obj.path) as src:
            meta = pq.ParquetFile(src).metadata
            column = meta.schema.to_arrow_schema().get_field_index("time")
            if column < 0:
                return fallback
            mins = [
                meta.row_group(g).column(column).statistics.min
                for g in range(meta.num_row_groups)
                if meta.row_group(g).column(column).statistics is not None
            ]
            return int(min(mins)) if mins else fallback
    except Exception:  # an unreadable footer: scored (and skipped) at its day's start
        return fallback


def _evidence(location: LakeLocation, index: LakeIndex, days: list[date]) -> list[Evidence]:
    """Security Hub findings of the score days (and the day before) in the lake, for ranking."""
    out: list[Evidence] = []
    for day in sorted(set(days) | {d - timedelta(days=1) for d in days}):
        for obj in index.evidence_on(day):
            try:
                out.extend(evidence_in(read_object(location, obj), obj.uri).findings)
            except Exception as err:
                index.skipped[obj.uri] = f"Security Hub evidence unreadable: {err}"
    return out


class _Digest:
    """One pass over ``findings.jsonl``: distinct findings per kind and day, the highest
    priority ones (as the review page ranks them) and the truth tally, in bounded memory."""

    TOP = 20

    def __init__(self, evidence: list[Evidence], tally: TruthTally | None):
        self.evidence, self.tally = evidence, tally
        self.seen: set[str] = set()
        self.by_kind: Counter[str] = Counter()
        self.by_day: dict[str, Counter[str]] = {}
        self.top: list[tuple[float, float, str, Row]] = []

    def add(self, finding: dict[str, Any]) -> None:
        if self.tally is not None:
            self.tally.add(finding)
        uid = finding["finding_info"]["uid"]
        if uid in self.seen:
            return
        self.seen.add(uid)
        kind = kind_of(finding)
        self.by_kind[kind] += 1
        day = datetime.fromtimestamp(int(finding["start_time"]) / 1000, UTC).date().isoformat()
        self.by_day.setdefault(day, Counter())[kind] += 1
        row = rank([row_of(finding, day)], None, self.evidence)[0]
        item = (row.priority, -(row.score or 0.0), uid, row)
        if len(self.top) < self.TOP:
            heapq.heappush(self.top, item)
        elif item[:3] > self.top[0][:3]:
            heapq.heapreplace(self.top, item)

    def fill(self, outcome: Outcome) -> None:
        outcome.findings = dict(sorted(self.by_kind.items()))
        outcome.incidents = self.by_kind.get("incident", 0)
        outcome.findings_by_day = {d: dict(c) for d, c in sorted(self.by_day.items())}
        best = sorted(self.top, key=lambda item: (-item[0], -item[1], item[2]))
        outcome.top = [item[3].as_dict() for item in best]


def _digest(
    findings_path: Path, evidence: list[Evidence], tally: TruthTally | None, outcome: Outcome
) -> None:
    digest = _Digest(evidence, tally)
    with findings_path.open() as lines:
        for line in lines:
            if line.strip():
                digest.add(json.loads(line))
    digest.fill(outcome)


def _window_ms(days: list[date]) -> tuple[int, int]:
    first = datetime.combine(days[0], datetime.min.time(), UTC)
    end = datetime.combine(days[-1], datetime.min.time(), UTC) + timedelta(days=1)
    return int(first.timestamp() * 1000), int(end.timestamp() * 1000)


def _publish_outputs(
    options: BacktestOptions,
    outcome: Outcome,
    location: LakeLocation,
    index: LakeIndex,
    findings_path: Path,
    picture: bytes | None,
    truth: list[TruthRow] | None,
    out: TextIO,
) -> None:
    """Count, rank and score the findings in one streamed pass, render every output, then
    put them in place (each written beside and renamed, the summary last), and print the
    closing lines."""
    tally = TruthTally(truth, *_window_ms(options.score_days)) if truth is not None else None
    _digest(findings_path, _evidence(location, index, options.score_days), tally, outcome)
    scored = tally.score() if tally is not None else None
    outcome.truth = scored.to_json() if scored else None
    outcome.skipped.update(index.skipped)
    outcome.skipped_by_reason = dict(Counter(_reason(r) for r in outcome.skipped.values()))
    summary = json.dumps(outcome.to_json(), indent=2).encode()
    pages = report.render(outcome, picture)
    options.out.mkdir(parents=True, exist_ok=True)
    report.replace_copy(options.out / "findings.jsonl", findings_path)
    for name, body in pages.items():
        report.replace_file(options.out / name, body)
    report.replace_file(options.out / "summary.json", summary)
    non_incidents = sum(n for k, n in outcome.findings.items() if k != "incident")
    print(
        f"findings: {non_incidents} ({outcome.incidents} incidents) over "
        f"{len(options.score_days)} score days",
        file=out,
    )
    for line in scored.lines() if scored else []:
        print(line, file=out)


def _reason(text: str) -> str:
    """A skip reason without the object it names, for counting."""
    if "cannot read as Parquet" in text:
        return "cannot read as Parquet"
    return text.split(": ", 1)[-1] if text.startswith(("aws/", "s3://", "/")) else text


__all__ = ["BacktestError", "BacktestOptions", "Outcome", "run_backtest"]
