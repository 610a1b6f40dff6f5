"""lakewatch's detector: IP Insights' dot product and the history's novelty evidence, combined.

Neither signal suffices alone: the dot product generalises across entities (an address a
sibling uses scores well) but smooths away what a quiet entity did; per-entity prefix counts
know exactly what an entity did but call every sibling's address new. The detector combines
them with a logistic regression fit on pairs the model and the history did not see (the
validation channel, or a held-out tenth) against the same negatives IP Insights trains on:
each held-out entity paired with a uniformly random address, and with another entity's
address. Its score is the log-odds that a pair is normal: higher = more normal, like the dot
product, and comparable across models because it is calibrated on the same kind of task.

It works with either algorithm: ``dots`` is any function that returns the model's dot
products, in-process or through an endpoint (SageMaker's built-in model included). Saved as one
safetensors file (arrays, with the weights and settings as JSON metadata): never pickle.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from lakewatch.model.encoding import (
    Addresses,
    distinct,
    entity_hashes,
    parse_addresses,
    random_addresses,
)
from lakewatch.model.files import write_tensors
from lakewatch.model.history import FEATURES, History

DETECTOR_FILE = "detector.safetensors"
FORMAT = "lakewatch-detector"
FORMAT_VERSION = 1
COLUMNS = (*FEATURES, "dot_product")
DotFn = Callable[[np.ndarray, Addresses], np.ndarray]  # (entity hashes, addresses) -> dots
FIT_CAP = 200_000


class DetectorError(ValueError):
    """A detector file that cannot be used, and why."""


@dataclass
class Detector:
    history: History
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    meta: dict[str, Any] = field(default_factory=dict)

    def combine(self, entity_hash: np.ndarray, addrs: Addresses, dots: np.ndarray) -> np.ndarray:
        """The log-odds that each pair is normal (nan where the dot product is nan)."""
        x = np.concatenate(
            [self.history.features(entity_hash, addrs), np.asarray(dots, np.float32)[:, None]],
            axis=1,
        ).astype(np.float64)
        z = (np.nan_to_num(x) - self.mean) / self.scale
        out = z @ self.coef + self.intercept
        out[~np.isfinite(np.asarray(dots, np.float64))] = np.nan
        return out

    def score_pairs(
        self, entities: list[str], addresses: list[str], dots: np.ndarray
    ) -> np.ndarray:
        """``combine`` for pairs as text, as the scorer, the canary and recalibration have them."""
        return self.combine(entity_hashes(entities), parse_addresses(addresses), dots)

    def weights(self) -> dict[str, float]:
        """Each evidence column's weight per standard deviation: what the detector relies on."""
        return {name: float(w) for name, w in zip(COLUMNS, self.coef, strict=True)}

    # storage -------------------------------------------------------------------------------

    def _tensors(self) -> tuple[dict[str, np.ndarray], dict[str, str]]:
        tensors = {f"history.{k}": v for k, v in self.history.tensors().items()}
        tensors.update({"mean": self.mean, "scale": self.scale, "coef": self.coef})
        meta = {
            "format": FORMAT,
            "format_version": str(FORMAT_VERSION),
            "columns": json.dumps(COLUMNS),
            "intercept": repr(float(self.intercept)),
            "meta": json.dumps(self.meta, sort_keys=True, default=str),
        }
        return {k: np.ascontiguousarray(v) for k, v in tensors.items()}, meta

    def to_bytes(self) -> bytes:
        return st_save(*self._tensors())

    def save(self, model_dir: str | Path) -> Path:
        """Written straight from the arrays (a large history is not copied into memory)."""
        path = Path(model_dir) / DETECTOR_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_tensors(path, *self._tensors())

    @classmethod
    def from_bytes(cls, body: bytes, name: str = "<bytes>") -> Detector:
        try:
            header_len = int.from_bytes(body[:8], "little")
            header = json.loads(body[8 : 8 + header_len])
            meta = header.get("__metadata__") or {}
            tensors = st_load(body)
        except Exception as err:  # safetensors raises its own error types
            raise DetectorError(f"{name}: not a safetensors file: {err}") from None
        if meta.get("format") != FORMAT:
            raise DetectorError(f"{name}: not a {FORMAT} file (format={meta.get('format')!r})")
        if meta.get("format_version") != str(FORMAT_VERSION):
            raise DetectorError(
                f"{name}: detector format version {meta.get('format_version')} is not supported "
                f"(this lakewatch reads {FORMAT_VERSION})"
            )
        if json.loads(meta["columns"]) != list(COLUMNS):
            raise DetectorError(f"{name}: evidence columns {meta['columns']} differ from {COLUMNS}")
        history = History.from_tensors(
            {k.removeprefix("history."): v for k, v in tensors.items() if k.startswith("history.")}
        )
        return cls(
            history,
            tensors["mean"],
            tensors["scale"],
            tensors["coef"],
            float(meta["intercept"]),
            json.loads(meta.get("meta", "{}")),
        )

    @classmethod
    def load(cls, location: str | Path) -> Detector:
        path = Path(location)
        if path.is_dir():
            path = path / DETECTOR_FILE
        if not path.is_file():
            raise DetectorError(f"no detector at {location} (expected {DETECTOR_FILE})")
        return cls.from_bytes(path.read_bytes(), str(path))


def negatives(
    rng: np.random.Generator, entity_hash: np.ndarray, addrs: Addresses
) -> tuple[np.ndarray, Addresses]:
    """IP Insights' two negatives for each pair: the entity with a random address, and with
    another pair's address (where that pair is another entity's)."""
    n = len(entity_hash)
    rand = random_addresses(rng, n, addrs.family)
    # another entity's address, every distinct address as likely as any other: drawn by
    # pair, the popular addresses everyone uses would make most of these negatives normal
    _, first = np.unique(np.stack([addrs.hi, addrs.lo]), axis=1, return_index=True)
    perm = np.where(rng.random(n) < 0.5, first[rng.integers(0, first.size, n)], rng.permutation(n))
    differ = entity_hash[perm] != entity_hash
    rows = np.concatenate([np.arange(n), np.flatnonzero(differ)])
    return entity_hash[rows], concat_addresses(rand, addrs.take(perm[differ]))


@dataclass
class FitSet:
    """The held-out pairs (normal) and their negatives, with the model's dot products."""

    entity_hash: np.ndarray
    addrs: Addresses
    dots: np.ndarray
    positives: int  # the first ``positives`` rows are the held-out pairs

    @classmethod
    def draw(
        cls,
        known: np.ndarray,
        holdout_hash: np.ndarray,
        holdout_addrs: Addresses,
        dots: DotFn,
        rng: np.random.Generator,
    ) -> FitSet:
        """``known``: the hashes of the entities in the history."""
        keep = np.flatnonzero(holdout_addrs.valid & np.isin(holdout_hash, known))
        if keep.size < 20:
            raise ValueError(
                f"{keep.size} held-out pairs of known entities: too few to fit the detector"
            )
        if keep.size > FIT_CAP:
            keep = np.sort(rng.choice(keep, FIT_CAP, replace=False))
        pos_hash, pos_addrs = holdout_hash[keep], holdout_addrs.take(keep)
        neg_hash, neg_addrs = negatives(rng, pos_hash, pos_addrs)
        all_hash = np.concatenate([pos_hash, neg_hash])
        all_addrs = concat_addresses(pos_addrs, neg_addrs)
        d = np.asarray(dots(all_hash, all_addrs), np.float64)
        return cls(all_hash, all_addrs, d, len(pos_hash))


def fit_set(history: History, sample: FitSet, regularization: float = 1.0) -> Detector:
    """Fit the combination on a drawn ``FitSet``."""
    n_pos = sample.positives
    x = np.concatenate(
        [history.features(sample.entity_hash, sample.addrs), sample.dots[:, None]], axis=1
    )
    x = np.nan_to_num(x.astype(np.float64))
    # a negative whose address the entity or its peers did use is no negative: dropped
    own = (x[:, COLUMNS.index("entity_32")] > 0) | (x[:, COLUMNS.index("peers_32")] > 0)
    own[:n_pos] = False
    x = x[~own]
    y = np.concatenate([np.ones(n_pos), np.zeros(len(x) - n_pos)])
    # Repeats of a known pair are the easy normal case; what the threshold must get right is
    # a pair new to its entity. Give those half of the positives' weight, however rare.
    novel = x[:n_pos, COLUMNS.index("entity_32")] == 0
    weight = np.ones(y.size)
    if 0 < novel.sum() < novel.size:
        weight[:n_pos] = np.where(novel, 0.5 / novel.mean(), 0.5 / (1 - novel.mean()))
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    coef, intercept = monotone_logistic((x - mean) / scale, y, regularization, sample=weight)
    return Detector(
        history,
        mean,
        scale,
        coef,
        intercept,
        {"fit_pairs": n_pos, "fit_negatives": len(x) - n_pos, "dropped_negatives": int(own.sum())},
    )


def monotone_logistic(
    x: np.ndarray,
    y: np.ndarray,
    regularization: float = 1.0,
    sample: np.ndarray | None = None,
) -> tuple[np.ndarray, float]:
    """Logistic regression whose weights are all >= 0.

    Every evidence column means "more = more normal" (a count in history, a peer share, the
    dot product), so no weight may turn evidence of normality into suspicion. Unconstrained
    (or with popularity left free), the fit did exactly that on correlated columns, learning
    "an address others use is suspicious" from the shuffled negatives: right for logins, wrong
    for a fleet whose instances share dependencies (fleet lateral AUC 0.92 against 0.99;
    docs/detector.md). L2 penalty ``1 / regularization``; classes weigh the same in
    total, rows within a class by ``sample``.
    """
    from scipy.optimize import minimize

    sample = np.ones(y.size) if sample is None else sample
    pos, neg = sample * (y > 0), sample * (y <= 0)
    w = 0.5 * pos / max(pos.sum(), 1e-12) + 0.5 * neg / max(neg.sum(), 1e-12)
    sign = 2 * y - 1
    lam = 1.0 / (regularization * y.size)

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        coef, b = theta[:-1], theta[-1]
        margin = sign * (x @ coef + b)
        value = float((w * np.logaddexp(0, -margin)).sum() + 0.5 * lam * coef @ coef)
        g = -w * sign * 0.5 * (1 - np.tanh(margin / 2))  # d/dmargin of log(1+e^-m), times sign
        grad = np.concatenate([x.T @ g + lam * coef, [g.sum()]])
        return value, grad

    bounds = [(0.0, None)] * x.shape[1] + [(None, None)]
    result = minimize(loss, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B", bounds=bounds)
    return result.x[:-1].astype(np.float64), float(result.x[-1])


def build(
    train_hash: np.ndarray,
    train_addrs: Addresses,
    holdout_hash: np.ndarray,
    holdout_addrs: Addresses,
    dots: DotFn,
    seed: int = 0,
    model_done: Callable[[], None] | None = None,
) -> Detector:
    """Fit on the holdout against a history of the training pairs alone, and serve with that
    same history: the holdout stays unseen, so the nightly recalibration can use it as its
    normal set. (Serving with the holdout in the history made every normal-set pair a known
    one: the threshold came out loose, and the demo's live false-positive rate was 2.7 times
    the target.)

    The dot products are taken first, then ``model_done`` is called: the caller may write
    and release the model before the history is built, the build's largest step.
    """
    valid = train_addrs.valid
    known = distinct(train_hash if valid.all() else train_hash[valid])
    sample = FitSet.draw(known, holdout_hash, holdout_addrs, dots, np.random.default_rng(seed))
    del dots
    if model_done is not None:
        model_done()
    fitted = fit_set(History.build(train_hash, train_addrs), sample)
    fitted.meta.update({"history_pairs": len(train_hash), "weights": fitted.weights()})
    return fitted


def concat_addresses(*parts: Addresses) -> Addresses:
    return Addresses(
        np.concatenate([p.family for p in parts]),
        np.concatenate([p.hi for p in parts]),
        np.concatenate([p.lo for p in parts]),
    )
