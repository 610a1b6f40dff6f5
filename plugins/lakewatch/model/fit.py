"""The model's fit: IP Insights trained, then the detector built on its dot products.

What ``lakewatch train`` does between reading the pairs and writing the model (the training
job, ``training/jobs.py``, and the quality bench call it), kept apart from the job's inputs and
outputs so the algorithm can be read and tested on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from lakewatch.lake.principals import is_principal
from lakewatch.model import detector
from lakewatch.model.artifact import ModelArtifact
from lakewatch.model.data import Pairs
from lakewatch.model.detector import Detector
from lakewatch.model.encoding import Addresses, distinct
from lakewatch.model.hyperparameters import resolve
from lakewatch.model.inference import Inference
from lakewatch.model.memory import release_freed_memory


@dataclass
class Trained:
    artifact: ModelArtifact | None  # None once handed to ``write_model``
    detector: Detector
    stats: dict[str, Any]


def train_with_detector(
    pairs: Pairs,
    validation: Pairs,
    given: dict[str, Any],
    device=None,
    log=print,
    write_model: Callable[[ModelArtifact], None] | None = None,
) -> Trained:
    """What ``lakewatch train`` does once the pairs are read and a validation set is held
    out (the quality bench calls it too).

    ``write_model`` takes the artifact as soon as the detector has the model's dot products;
    the model is released once its weights file is written, in the first second of the
    detector's history build (held through the whole build, together they were the run's
    peak memory: 2.3 GB at 10M pairs).
    """
    from lakewatch.model.train import train as fit

    hp = resolve(
        given,
        distinct_entities=len(distinct(pairs.entity_hash)),
        distinct_addresses=len(distinct(pairs.addrs.lo ^ pairs.addrs.hi)),
        pairs=len(pairs),
    )
    result = fit(pairs, hp, validation=validation, log=log, device=device)
    stats = result.stats.to_dict()
    live = {"artifact": ModelArtifact.from_training(result)}
    del result
    created = live["artifact"].meta["created"]
    inference = Inference(live["artifact"])

    def dots(hashes: np.ndarray, addrs: Addresses) -> np.ndarray:
        return inference.score_parsed(hashes, addrs).dot_product

    def model_done() -> None:
        nonlocal inference
        if write_model is not None:
            write_model(live.pop("artifact"))
            del inference
            release_freed_memory()

    principal_hashes = np.array(
        [h for name, h in (pairs.name_hashes or {}).items() if is_principal(name)], np.uint64
    )
    found = detector.build_split(
        pairs.entity_hash,
        pairs.addrs,
        validation.entity_hash,
        validation.addrs,
        dots,
        np.isin(pairs.entity_hash, principal_hashes),
        np.isin(validation.entity_hash, principal_hashes),
        seed=hp.seed,
        model_done=model_done,
        names=pairs.name_hashes,
    )
    found.meta["model"] = created
    log(
        "detector weights (per standard deviation): "
        + ", ".join(f"{k} {v:.2f}" for k, v in found.weights().items())
    )
    return Trained(live.get("artifact"), found, stats)


def hold_out(pairs: Pairs, seed: int, log=None, share: float = 0.1) -> tuple[Pairs, Pairs]:
    """(the rest, a random ``share``) of the pairs, the same for the same seed."""
    rng = np.random.default_rng(seed + 7)
    mask = rng.random(len(pairs)) < share
    if len(pairs) >= 20 and not mask.any():
        mask[rng.integers(0, len(pairs))] = True
    if log:
        log(
            f"no validation channel: holding out {int(mask.sum()):,} pairs for early stopping "
            "and the detector"
        )
    return pairs.take(np.flatnonzero(~mask)), pairs.take(np.flatnonzero(mask))
