"""RCF's entry points: train from a headerless numeric CSV, batch score one.

The same inputs as the IP Insights jobs (a file, a folder, an s3:// prefix or a manifest, and
SageMaker script mode's ``SM_CHANNEL_TRAIN``/``SM_MODEL_DIR``/hyperparameters), the same
publishing (staged, then renamed or uploaded), so the local backend and a script-mode job
handle both algorithms alike.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from lakewatch.aws.clients import ClientFactory
from lakewatch.extract.rcf_features import FEATURES_FILE, FeatureProfile, write_csv
from lakewatch.model.data import iter_sources
from lakewatch.model.hyperparameters import parse_assignments
from lakewatch.model.rcf.artifact import RcfArtifact
from lakewatch.model.rcf.data import FeatureRowError, Skipped, scoring_rows, training_rows
from lakewatch.model.rcf.forest import Sampler
from lakewatch.model.rcf.hyperparameters import RcfHyperparameters, resolve_rcf
from lakewatch.training.jobs import _write_output, publish_model, sagemaker_hyperparameters


def _sample(
    train: str, given: dict[str, Any], clients: ClientFactory | None, seed: int
) -> tuple[RcfHyperparameters, Sampler]:
    """Stream every training file into the trees' reservoirs (one file in memory at a time)."""
    hp: RcfHyperparameters | None = None
    sampler: Sampler | None = None
    for name, body in iter_sources(train, clients):
        rows = training_rows(name, body, hp.feature_dim if hp else None)
        if not len(rows):
            continue
        if hp is None or sampler is None:
            hp = resolve_rcf(given, columns=rows.shape[1])
            sampler = Sampler(hp, seed)
        sampler.add(rows)
    if hp is None or sampler is None:
        raise FeatureRowError(f"{train}: no training rows")
    return hp, sampler


def run_rcf_training(
    train: str | None,
    model_dir: str | None,
    hp_items: list[str] | None = None,
    *,
    clients: ClientFactory | None = None,
    seed: int = 0,
    profile: FeatureProfile | None = None,
    log=print,
) -> dict[str, Any]:
    """Sample, build, save; returns the training stats (rows read, rows/s). ``profile``
    (``prepare_training``'s, for rows from the lake) is saved in the artifact's
    ``model.json`` and beside it as ``features.json``, which the scorer reads."""
    script_mode = "SM_MODEL_DIR" in os.environ and model_dir is None
    train = train or os.environ.get("SM_CHANNEL_TRAIN")
    model_dir = model_dir or os.environ.get("SM_MODEL_DIR")
    if not train or not model_dir:
        raise ValueError("--train and --model-dir are required outside SageMaker")
    given = {**sagemaker_hyperparameters(), **parse_assignments(hp_items or [])}
    started = time.perf_counter()
    hp, sampler = _sample(train, given, clients, seed)
    forest = sampler.build()
    seconds = time.perf_counter() - started
    stats = {"rows": sampler.seen, "seconds": round(seconds, 3), "seed": seed}
    artifact = RcfArtifact.create(hp, forest, stats)
    artifact.meta["inputs"] = {"train": train}
    extra: tuple[str, ...] = ()
    if profile is not None:
        if len(profile.overall) != hp.feature_dim:
            raise ValueError(
                f"the feature profile is {len(profile.overall)} features wide, the training "
                f"rows {hp.feature_dim}"
            )
        artifact.meta["features"] = profile.as_dict()
        extra = (FEATURES_FILE,)
    with tempfile.TemporaryDirectory(prefix="lakewatch-train-") as tmp:
        artifact.save(tmp, tarball=not script_mode)
        if profile is not None:
            (Path(tmp) / FEATURES_FILE).write_text(json.dumps(profile.as_dict()))
        where = publish_model(Path(tmp), model_dir, clients, extra)
    log(
        f"rcf: {sampler.seen:,} rows of {hp.feature_dim} features, {hp.num_trees} trees of "
        f"{min(sampler.seen, hp.num_samples_per_tree)} samples, {seconds:.2f}s"
    )
    log(f"model written to {where}")
    return {**stats, "artifact": where}


def prepare_training(rows: pa.Table, folder: str | Path) -> tuple[Path, FeatureProfile]:
    """The training window's feature rows (``extract.rcf_features.sql``'s) as RCF's
    training CSV, each row its instance's deviation from its usual hour, standardized by the
    window's figures (``FeatureProfile``'s transform): ``folder/train.csv`` and the profile
    to train with (``run_rcf_training(profile=...)``)."""
    profile = FeatureProfile.fit(rows)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    return write_csv(profile.apply(rows), out / "train.csv"), profile


def score_rcf_file(
    model_dir: str,
    input_path: str,
    output: str | None = None,
    *,
    clients: ClientFactory | None = None,
    log=lambda s: print(s, file=sys.stderr),
) -> Skipped:
    """One score per input line, higher = more anomalous; a skipped row's line stays empty."""
    forest = RcfArtifact.load(model_dir).forest
    skipped = Skipped()
    parts = []
    for name, body in iter_sources(input_path, clients):
        rows, lines, total = scoring_rows(name, body, forest.feature_dim, skipped)
        text = np.full(total, "", dtype=object)
        text[lines - 1] = [repr(float(s)) for s in forest.score(rows)]
        parts.append("".join(f"{t}\n" for t in text))
    _write_output(output, "".join(parts).encode(), clients)
    for line in skipped.describe():
        log(line)
    return skipped
