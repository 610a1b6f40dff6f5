"""Which daily extracts a training run uses, and the channels it reads them through.

The window is the ``window_days`` days before the run's data interval end. Each day's published
manifest lists its CSV parts; the plan writes SageMaker manifest files (``S3DataType:
ManifestFile``) listing the window's train and validation parts, so training reads exactly the
published parts and nothing half-written.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

from lakewatch.extract.export import ExtractSummary, PairSet, day_prefix, read_manifest
from lakewatch.lake.sink import ObjectStore
from lakewatch.names import model_id, training_prefix


class NotEnoughData(Exception):
    """Too little data to train: the run ends cleanly and the deployed model stays."""


@dataclass
class TrainingPlan:
    model_id: str
    window_start: str
    window_end: str  # exclusive
    days: list[str]
    missing_days: list[str]
    train_rows: int
    validation_rows: int
    entities_upper_bound: int
    train_parts: list[str] = field(default_factory=list)  # keys in the results bucket
    validation_parts: list[str] = field(default_factory=list)
    train_manifest: str = ""  # s3:// URIs of the SageMaker manifest files
    validation_manifest: str = ""
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    pairs: str = ""  # the pair set's key: views (+ipv6)
    feedback_pairs: int = 0  # analysts' false positives added to the training pairs
    algorithm: str = "lakewatch"  # the IP Insights that trains it: lakewatch | builtin

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def plan_training(
    store: ObjectStore,
    extracts_prefix: str,
    models_prefix: str,
    source_version: str,
    pair_set: PairSet,
    window_end: date,
    window_days: int,
    min_train_rows: int,
    hyperparameters: dict[str, Any],
    algorithm: str,
    false_positives: list[tuple[str, str]] | None = None,
) -> TrainingPlan:
    """Collect the window's published extracts; raises ``NotEnoughData`` with the reason.

    ``false_positives``: pairs analysts labelled false positive. They are normal, so they join
    the training pairs as one more part (``feedback.csv`` beside the plan), and the model id
    changes with them."""
    days, missing, manifests = _window_manifests(
        store, extracts_prefix, source_version, pair_set, window_end, window_days
    )
    train_rows = sum(m.split_rows.get("train", 0) for m in manifests)
    if train_rows < min_train_rows:
        raise NotEnoughData(
            f"{train_rows:,} training pairs in the {window_days} days before {window_end} "
            f"(need at least {min_train_rows:,}); days with an extract: {days or 'none'}; "
            f"missing: {missing or 'none'}"
        )
    feedback = sorted(set(false_positives or []))
    plan = _new_plan(
        window_end,
        window_days,
        days,
        missing,
        manifests,
        train_rows,
        pair_set,
        hyperparameters,
        algorithm,
        feedback,
    )
    _write_plan(store, models_prefix, plan, feedback)
    return plan


def _window_manifests(
    store: ObjectStore,
    extracts_prefix: str,
    source_version: str,
    pair_set: PairSet,
    window_end: date,
    window_days: int,
) -> tuple[list[str], list[str], list[ExtractSummary]]:
    """The window's days with a published extract, oldest first, the days without one, and
    the extracts' manifests: only published parts are ever trained on."""
    days, missing, manifests = [], [], []
    for offset in range(window_days, 0, -1):
        day = window_end - timedelta(days=offset)
        summary: ExtractSummary | None = read_manifest(
            store, day_prefix(extracts_prefix, source_version, pair_set, day)
        )
        if summary is None:
            missing.append(day.isoformat())
            continue
        days.append(day.isoformat())
        manifests.append(summary)
    return days, missing, manifests


def _new_plan(
    window_end: date,
    window_days: int,
    days: list[str],
    missing: list[str],
    manifests: list[ExtractSummary],
    train_rows: int,
    pair_set: PairSet,
    hyperparameters: dict[str, Any],
    algorithm: str,
    feedback: list[tuple[str, str]],
) -> TrainingPlan:
    """The plan before anything is written. Its model id is the window's end and a digest of
    every input that changes the model (days, extract attempts, pairs, hyperparameters,
    algorithm, analysts' false positives), so the same inputs name the same model."""
    inputs: dict[str, Any] = {
        "days": days,
        "attempts": [m.attempt for m in manifests],
        "pairs": pair_set.key,
        "hyperparameters": hyperparameters,
        "algorithm": algorithm,
    }
    if feedback:
        inputs["false_positives"] = feedback
    return TrainingPlan(
        model_id=model_id(window_end, inputs),
        window_start=(window_end - timedelta(days=window_days)).isoformat(),
        window_end=window_end.isoformat(),
        days=days,
        missing_days=missing,
        train_rows=train_rows,
        validation_rows=sum(m.split_rows.get("validation", 0) for m in manifests),
        entities_upper_bound=sum(m.entities for m in manifests),
        train_parts=[k for m in manifests for k in m.parts.get("train", [])],
        validation_parts=[k for m in manifests for k in m.parts.get("validation", [])],
        hyperparameters=dict(hyperparameters),
        pairs=pair_set.key,
        algorithm=algorithm,
    )


def _write_plan(
    store: ObjectStore,
    models_prefix: str,
    plan: TrainingPlan,
    feedback: list[tuple[str, str]],
) -> None:
    """Write the feedback part (added to ``plan``'s training parts), the SageMaker manifest
    files and ``plan.json`` under the model's training prefix, for training to read."""
    base = training_prefix(models_prefix, plan.model_id)
    if feedback:
        key = f"{base}feedback.csv"
        store.put(key, "".join(f"{e},{ip}\n" for e, ip in feedback).encode())
        plan.train_parts.append(key)
        plan.feedback_pairs = len(feedback)
        plan.train_rows += len(feedback)
    plan.train_manifest = _write_manifest(store, f"{base}train.manifest", plan.train_parts)
    plan.validation_manifest = _write_manifest(
        store, f"{base}validation.manifest", plan.validation_parts
    )
    store.put(f"{base}plan.json", json.dumps(plan.to_json(), indent=2).encode())


def _write_manifest(store: ObjectStore, key: str, parts: list[str]) -> str:
    """A SageMaker manifest file: a prefix object, then keys relative to it."""
    root = store.uri("")
    store.put(key, json.dumps([{"prefix": root}, *parts]).encode())
    return store.uri(key)
