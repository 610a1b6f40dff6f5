"""The recalibration DAG's steps: build the sets, score them, choose, check and publish.

Each step reads and writes under ``thresholds/work/day=<night>/`` so a failed step can be
rerun on its own; the outcome of a night lives under ``thresholds/history/day=<night>/``.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np

from lakewatch.aws.clients import ClientFactory
from lakewatch.aws.endpoint import invoke_pairs
from lakewatch.extract.daily import results_store
from lakewatch.extract.export import PairSet, day_prefix, read_manifest, read_parts
from lakewatch.lake.sink import ObjectStore
from lakewatch.model.detector_cache import DetectorCache
from lakewatch.model.registry import ModelRecord, Registry
from lakewatch.names import digest, threshold_night_prefix, threshold_work_prefix
from lakewatch.review.feedback import labelled_pairs
from lakewatch.settings import Settings
from lakewatch.threshold.choose import (
    Evaluation,
    entity_rates,
    evaluate,
    tail_threshold,
    threshold_for_fpr,
)
from lakewatch.threshold.gate import gate
from lakewatch.threshold.plot import explain_png
from lakewatch.threshold.publish import (
    ThresholdRecord,
    publish,
    read_published,
    write_evidence,
    write_index,
)
from lakewatch.threshold.sets import PairSets, SetsTooSmall, build_sets
from lakewatch.threshold.views import (
    SigninThreshold,
    ViewComparison,
    compare_views,
    signin_threshold,
    split_populations,
)


class NoModelDeployed(RuntimeError):
    """The endpoint serves no registered model."""


class NoData(RuntimeError):
    """The night has no extracted pairs to calibrate on."""


class Refused(RuntimeError):
    """The quality gate refused the threshold; the previous one stays published."""


NOT_RETRYABLE = (NoModelDeployed, NoData, SetsTooSmall)


@dataclass(frozen=True)
class Options:
    target_fpr: float = 0.001
    expected_anomaly_rate: float = 0.001
    min_auc: float = 0.85
    max_shift_iqr: float = 1.0
    override: bool = False
    max_normal: int = 100_000  # at a 0.1% target, the FPR's 95% interval is about +-20%
    max_abnormal: int = 5_000
    min_normal: int = 200


def night_of(when: datetime) -> date:
    """The UTC day a run recalibrates on: the day before it runs."""
    return when.date() - timedelta(days=1)


def _work(settings: Settings, day: date) -> str:
    return threshold_work_prefix(settings.thresholds_prefix, day.isoformat())


def current_model(settings: Settings, clients: ClientFactory) -> ModelRecord:
    registry = Registry(results_store(settings, clients), settings.models_prefix)
    state = registry.endpoint(settings.endpoint_name)
    record = registry.get(state.current) if state.current else None
    if record is None:
        raise NoModelDeployed(
            f"no model is deployed on endpoint {settings.endpoint_name}: run lakewatch_train first"
        )
    return record


TRAINING_LIMIT = 2_000_000  # training pairs read to know entities and seen pairs


def _fresh_day_seen_share(
    store,
    train_parts: list[str],
    night_prefix: str,
    held_out: list[tuple[str, str]],
    cache: dict[str, list[tuple[str, str]]],
) -> float | None:
    """The share of the night's distinct pairs (every split) that the other days of the
    window had: what a fresh day brings, counted the way the scorer counts (distinct pairs).
    None when the window is that one night. Parts in ``cache`` (read for the training pairs)
    are not fetched again."""
    night = [k for k in train_parts if k.startswith(night_prefix)]
    others = set(
        read_parts(store, [k for k in train_parts if k not in night], TRAINING_LIMIT, cache)
    )
    pairs = set(read_parts(store, night, cache=cache)) | set(held_out)
    if not others or not pairs:
        return None
    return len(pairs & others) / len(pairs)


def prepare(
    settings: Settings, clients: ClientFactory, day: date, options: Options
) -> dict[str, Any]:
    """Build the night's sets and save them; returns where and what."""
    store = results_store(settings, clients)
    record = current_model(settings, clients)
    pair_set = PairSet.from_key(record.extra.get("pairs") or PairSet().key)
    prefix = day_prefix(settings.extracts_prefix, settings.source_version, pair_set, day)
    manifest = read_manifest(store, prefix)
    if manifest is None or manifest.rows == 0:
        raise NoData(
            f"no extracted pairs for {day} ({pair_set.key}): run lakewatch_extract "
            "for that day first"
        )
    trained_on = day.isoformat() in record.days
    # Inside the training window only held-out pairs are fresh to the model: every window
    # day's validation split, not the night's alone (a tenth of one day is a thousand or so
    # distinct pairs, which puts a 0.1% threshold on one or two scores).
    keys = (
        record.extra.get("validation_parts") or manifest.parts.get("validation", [])
        if trained_on
        else [k for part in manifest.parts.values() for k in part]
    )
    train_parts = record.extra.get("train_parts", [])
    parts: dict[str, list[tuple[str, str]]] = {}
    training = read_parts(store, train_parts, TRAINING_LIMIT, parts)
    candidates = read_parts(store, keys, cache=parts)
    labelled = labelled_pairs(store, settings.feedback_prefix)
    sets = build_sets(
        candidates,
        {e for e, _ in training},
        set(training),
        seed=int(digest([day.isoformat(), record.model_id]), 16),
        max_normal=options.max_normal,
        max_abnormal=options.max_abnormal,
        min_normal=options.min_normal,
        seen_share=(
            _fresh_day_seen_share(
                store,
                train_parts,
                prefix,
                read_parts(store, manifest.parts.get("validation", []), cache=parts),
                parts,
            )
            if trained_on
            else None
        ),
        false_positives=labelled["false_positive"],
        true_positives=labelled["true_positive"],
    )
    sets.notes.append(
        f"normal pairs: the held-out validation splits of the model's {len(record.days)} "
        f"training days (it trained on {day})"
        if trained_on
        else f"normal pairs: all of {day} (after the model's training window)"
    )
    key = f"{_work(settings, day)}sets.json"
    store.put(key, json.dumps({"model_id": record.model_id, **asdict(sets)}).encode())
    return {"sets": key, "model_id": record.model_id, "sizes": sets.sizes(), "notes": sets.notes}


def score(settings: Settings, clients: ClientFactory, day: date, sets_key: str) -> dict[str, Any]:
    """Score every set through the deployed endpoint (never by loading the model here), then
    through the model's detector when it has one (the score the scorer will compare)."""
    store = results_store(settings, clients)
    doc = json.loads(store.get(sets_key))
    runtime = clients("sagemaker-runtime")
    found = DetectorCache(clients("s3"), settings.results_bucket_name, settings.models_prefix).get(
        doc["model_id"]
    )
    scores = {}
    for name, pairs in [("normal", doc["normal"]), *doc["abnormal"].items()]:
        out = invoke_pairs(
            runtime, settings.endpoint_name, [p[0] for p in pairs], [p[1] for p in pairs]
        )
        if np.isnan(out.dot_product).any():
            raise RuntimeError(
                f"endpoint {settings.endpoint_name} returned no score for "
                f"{int(np.isnan(out.dot_product).sum())} {name} pairs"
            )
        values = out.dot_product
        if found is not None:
            values = found.score_pairs([p[0] for p in pairs], [p[1] for p in pairs], values)
        scores[name] = values.tolist()
    kind = "detector" if found is not None else "dot_product"
    key = f"{_work(settings, day)}scores.json"
    store.put(
        key,
        json.dumps(
            {
                "model_id": doc["model_id"],
                "scores": scores,
                "normal_entities": [p[0] for p in doc["normal"]],
                "abnormal_entities": {k: [p[0] for p in v] for k, v in doc["abnormal"].items()},
                "notes": doc["notes"],
                "score": kind,
                "labelled_false_positive": _scores_of(
                    doc["normal"], scores["normal"], doc.get("labelled_false_positive") or []
                ),
            }
        ).encode(),
    )
    return {"scores": key}


def _scores_of(
    pairs: list[list[str]], values: list[float], wanted: list[list[str]]
) -> list[dict[str, Any]]:
    """The scores of ``wanted`` pairs, looked up in a scored set."""
    by_pair = {tuple(p): v for p, v in zip(pairs, values, strict=True)}
    return [{"entity": e, "ip": ip, "score": by_pair[(e, ip)]} for e, ip in wanted]


def choose(
    settings: Settings,
    clients: ClientFactory,
    day: date,
    scores_key: str,
    options: Options,
    run_id: str = "",
) -> ThresholdRecord:
    """Pick the threshold, run the gate, write the record and picture; raises ``Refused``."""
    store = results_store(settings, clients)
    doc = json.loads(store.get(scores_key))
    normal = np.array(doc["scores"]["normal"])
    abnormal = {k: np.array(v) for k, v in doc["scores"].items() if k != "normal"}
    entities = doc.get("normal_entities") or []  # absent from scores written before them
    # principals and instances are thresholded apart: the network pairs set the threshold
    # (and the gate's figures) as they did alone, the sign-ins get their own quantile
    network, (signin_normal, signin_abnormal) = split_populations(
        normal, entities, abnormal, doc.get("abnormal_entities") or {}
    )
    net_normal, net_entities, net_abnormal, net_abnormal_entities = network
    ev = evaluate(net_normal, net_abnormal, options.target_fpr, options.expected_anomaly_rate)
    reasons = _gate_reasons(settings, clients, doc, ev, options)
    views = compare_views(
        net_normal,
        net_entities,
        net_abnormal,
        net_abnormal_entities,
        options.target_fpr,
        ev.chosen.threshold,
    )
    signin = signin_threshold(
        signin_normal, signin_abnormal, options.target_fpr, ev.chosen.threshold
    )
    record = _threshold_record(
        settings, day, doc, options, run_id, ev, reasons, (views, signin), net_normal, net_entities
    )
    _write_outcome(store, settings, day, doc, record, normal, abnormal, ev, reasons)
    if reasons:
        raise Refused(
            "threshold not published, the previous one stays: "
            + "; ".join(reasons)
            + f" (evidence: {record.record_uri})"
        )
    return record


def _gate_reasons(
    settings: Settings,
    clients: ClientFactory,
    doc: dict[str, Any],
    ev: Evaluation,
    options: Options,
) -> list[str]:
    """Why the quality gate refuses the chosen threshold (empty when it passes): it needs the
    threshold published now, since a same-model shift beyond the limit is refused."""
    previous = read_published(clients("ssm"), settings.threshold_parameter)
    return gate(
        ev,
        previous,
        doc["model_id"],
        min_auc=options.min_auc,
        max_shift_iqr=options.max_shift_iqr,
        override=options.override,
        score=doc.get("score", "dot_product"),
    )


def _threshold_record(
    settings: Settings,
    day: date,
    doc: dict[str, Any],
    options: Options,
    run_id: str,
    ev: Evaluation,
    reasons: list[str],
    by_view: tuple[ViewComparison, SigninThreshold],
    normal: np.ndarray,
    entities: list[str],
) -> ThresholdRecord:
    """The night's record: the chosen threshold with its evaluation, the strict and loose
    tails and per-view offsets the scorer reads (the signin view's whenever it has its own
    threshold), and the notes an operator reads. ``normal``, ``entities``: the network
    pairs'."""
    views, signin = by_view
    offsets = dict(views.offsets) if views.adopted else {}
    if signin.offset is not None:
        offsets["signin"] = signin.offset
    loose_fpr = min(0.5, 10 * options.target_fpr)  # a scan's members, and the strict tail
    record = ThresholdRecord(
        day=day.isoformat(),
        model_id=doc["model_id"],
        endpoint=settings.endpoint_name,
        target_fpr=options.target_fpr,
        threshold=ev.chosen.threshold,
        evaluation=ev.to_json(),
        sets=ev.sizes,
        notes=doc["notes"] + _false_positive_notes(doc, ev.chosen.threshold),
        refused=reasons,
        run_id=run_id,
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        score=doc.get("score", "dot_product"),
        strict_threshold=tail_threshold(normal, options.target_fpr / 10, loose_fpr),
        scale=max(ev.normal_quantiles["p75"] - ev.normal_quantiles["p25"], 1e-6),
        entity_rates=entity_rates(entities, normal if entities else [], options.target_fpr),
        loose_threshold=threshold_for_fpr(normal, loose_fpr),
        views={**views.to_json(), "signin": signin.to_json()},
        view_offsets=offsets,
    )
    record.notes.append(f"thresholds per view: {views.reason}")
    if signin.normal_pairs:
        record.notes.append(f"signin threshold: {signin.reason}")
    return record


def _false_positive_notes(doc: dict[str, Any], threshold: float) -> list[str]:
    """One note per pair analysts labelled false positive: whether the new threshold still
    flags it, so a label's effect on the threshold shows."""
    return [
        f"analyst false positive ({fp['entity']}, {fp['ip']}): score {fp['score']:.4f}, "
        + ("still under" if fp["score"] < threshold else "above")
        + f" the threshold {threshold:.4f}"
        for fp in doc.get("labelled_false_positive") or []
    ]


def _write_outcome(
    store: ObjectStore,
    settings: Settings,
    day: date,
    doc: dict[str, Any],
    record: ThresholdRecord,
    normal: np.ndarray,
    abnormal: dict[str, np.ndarray],
    ev: Evaluation,
    reasons: list[str],
) -> None:
    """Write the record, its picture and the index, refused or not, so a refusal leaves
    evidence an operator can read."""
    png = explain_png(
        normal,
        abnormal,
        ev,
        f"lakewatch threshold for {day} - model "
        f"{doc['model_id']}" + (" - REFUSED" if reasons else ""),
    )
    write_evidence(store, settings.thresholds_prefix, record, png)
    write_index(store, settings.thresholds_prefix)


def publish_record(settings: Settings, clients: ClientFactory, day: date) -> ThresholdRecord:
    """Publish the night's accepted record to SSM and mark it published."""
    store = results_store(settings, clients)

    key = f"{threshold_night_prefix(settings.thresholds_prefix, day.isoformat())}record.json"
    record = ThresholdRecord(**json.loads(store.get(key)))
    if record.refused:
        raise Refused(f"the record for {day} was refused: {'; '.join(record.refused)}")
    record.version = publish(clients("ssm"), settings.threshold_parameter, record)
    record.published = True
    store.put(key, json.dumps(asdict(record), indent=2).encode())
    write_index(store, settings.thresholds_prefix)
    return record


def summary_lines(record: ThresholdRecord) -> list[str]:
    ev = record.evaluation
    chosen = ev["chosen"]
    lines = [
        f"threshold {record.threshold:.4f} ({record.score}) for model {record.model_id} on "
        f"{record.day}: FPR {chosen['fpr']:.3%} (95% CI {chosen.get('fpr_low', 0):.3%}-"
        f"{chosen.get('fpr_high', 0):.3%}; target {record.target_fpr:.3%}), recall "
        f"{chosen['recall']:.1%}, precision at the expected anomaly rate "
        f"{chosen['precision']:.1%}, AUC {ev['auc']:.3f}",
        "  recall by kind: "
        + ", ".join(f"{k} {v:.1%}" for k, v in chosen["recall_by_kind"].items()),
    ]
    for name, alt in ev["alternatives"].items():
        lines.append(
            f"  alternative {name}: threshold {alt['threshold']:.4f}, FPR "
            f"{alt['fpr']:.2%}, recall {alt['recall']:.1%}, F1 {alt['f1']:.3f}"
        )
    lines += [f"  {note}" for note in record.notes]
    lines.append(f"  evidence: {record.record_uri} and {record.picture_uri}")
    return lines


__all__ = [
    "NOT_RETRYABLE",
    "NoData",
    "NoModelDeployed",
    "Options",
    "PairSets",
    "Refused",
    "choose",
    "night_of",
    "prepare",
    "publish_record",
    "score",
    "summary_lines",
]
