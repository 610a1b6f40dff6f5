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

from lakewatch.lake.principals import principal_mask
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
FORMAT_VERSION = 2  # 2: the baseline blend (a version-1 file reads as blend 0)
READS = ("1", "2")
COLUMNS = (*FEATURES, "dot_product")
DotFn = Callable[[np.ndarray, Addresses], np.ndarray]  # (entity hashes, addresses) -> dots
FIT_CAP = 200_000
# The prefix-count baseline any analyst can write in SQL, from the history's log counts:
# 3 log1p(n/24) + 2 log1p(n/16) + log1p(n/8) for the entity.
BASELINE = (("entity_24", 3.0), ("entity_16", 2.0), ("entity_8", 1.0))
# Candidate shares of the baseline in the score (``Detector.blend``), the baseline in units
# of the logit's spread; the last is lexicographic (the baseline first, the logit breaking
# its ties).
BLEND_STEPS = (0.0, 1 / 9, 1 / 5, 1 / 3, 1 / 2, 2 / 3, 4 / 5, 1 - 1e-9)
NEGATIVE_KINDS = ("random", "shuffled")  # FitSet.kind 1, 2 (0: a held-out normal pair)


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
    blend: float = 0.0  # the baseline's share of the score (``choose_blend``)
    blend_unit: float = 1.0  # the logit's spread over the baseline's, on held-out pairs
    # Principals' own detector (the signin view's entities: their history and weights) when
    # the model was trained on sign-ins beside instances (``build_split``); this one then
    # holds the instances'. None: one detector for every entity.
    signin: Detector | None = None

    def combine(self, entity_hash: np.ndarray, addrs: Addresses, dots: np.ndarray) -> np.ndarray:
        """Each pair's score, higher = more normal (nan where the dot product is nan): the
        log-odds that it is normal and the prefix-count baseline, mixed ``blend``. Pairs of
        the principals the sign-in detector knows are scored by it."""
        if self.signin is None:
            return self._combine(entity_hash, addrs, dots)
        entity_hash = np.asarray(entity_hash)
        mine = np.isin(entity_hash, self.signin.history.entities)
        out = np.empty(len(entity_hash), np.float64)
        dots = np.asarray(dots)
        for part, detector in ((~mine, self), (mine, self.signin)):
            if part.any():
                rows = np.flatnonzero(part)
                out[rows] = detector._combine(entity_hash[rows], addrs.take(rows), dots[rows])
        return out

    def _combine(self, entity_hash: np.ndarray, addrs: Addresses, dots: np.ndarray) -> np.ndarray:
        x = np.concatenate(
            [self.history.features(entity_hash, addrs), np.asarray(dots, np.float32)[:, None]],
            axis=1,
        ).astype(np.float64)
        x = np.nan_to_num(x)
        out = mix(self.logit(x), baseline_score(x), self.blend, self.blend_unit)
        out[~np.isfinite(np.asarray(dots, np.float64))] = np.nan
        return out

    def logit(self, x: np.ndarray) -> np.ndarray:
        """The logistic regression's log-odds for evidence rows ``x`` (``COLUMNS``)."""
        return ((x - self.mean) / self.scale) @ self.coef + self.intercept

    def score_pairs(
        self, entities: list[str], addresses: list[str], dots: np.ndarray
    ) -> np.ndarray:
        """``combine`` for pairs as text, as the scorer, the canary and recalibration have them."""
        return self.combine(entity_hashes(entities), parse_addresses(addresses), dots)

    def stand_ins(self, entities, addresses) -> np.ndarray:
        """For each pair (entities and addresses as text: lists or Arrow arrays), the history
        row of the known entity to score it as when the history does not know its entity
        (``History.stand_ins``); -1 where it needs none or there is none (or the history holds
        no names: a detector written before stand-ins)."""
        if self.history.names is None:
            return np.full(len(entities), -1, np.int64)
        hashes = entity_hashes(entities)
        proxy, _ = self.history.stand_ins(hashes, parse_addresses(addresses))
        rows = np.searchsorted(self.history.entities, proxy)
        out = np.where(proxy != 0, rows, -1)
        out = self._same_direction(entities, hashes, out)
        if self.signin is not None:  # a principal is never scored as an instance
            out[principal_mask(entities)] = -1
        return out

    def _same_direction(self, entities, hashes: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """``rows`` (each pair's stand-in row, -1: none) made to keep a pair's direction: an
        instance's inbound entity (``<id>/in``) is scored as its stand-in's inbound entity,
        and its outbound one as an outbound one. The instance's outbound pairs (its calls to
        its service's dependencies) find its siblings best, so its inbound entity takes the
        inbound entity of its outbound entity's stand-in where the history has it. (An inbound
        entity's own /24s are mostly its clients' and the responses of its calls: its nearest
        entity was often a sibling's outbound entity, which never saw a client, and every one
        of its internet clients was flagged.) Only the new entities' names are read."""
        new = np.flatnonzero(~self.history.known(hashes))
        if not new.size or not (rows[new] >= 0).any():
            return rows
        names = _names_at(entities, new)
        found: dict[str, int] = {}  # each new entity's own stand-in row
        for name, row in zip(names, rows[new].tolist(), strict=True):
            if row >= 0:
                found.setdefault(name, row)
        chosen = {name: self._directed(name, found) for name in dict.fromkeys(names)}
        out = rows.copy()
        out[new] = [chosen[name] for name in names]
        return out

    def _directed(self, name: str, found: dict[str, int]) -> int:
        """The stand-in row for new entity ``name``, of its direction (-1: none)."""
        inbound = name.endswith(INBOUND)
        instance = name.removesuffix(INBOUND)
        if inbound and instance in found:  # the inbound entity of its outbound one's sibling
            row = self._row_of(self.name(found[instance]).removesuffix(INBOUND) + INBOUND)
            if row >= 0:
                return row
        if name not in found:
            return -1
        own = self.name(found[name])
        if own.endswith(INBOUND) == inbound:
            return found[name]
        return self._row_of(own + INBOUND if inbound else own.removesuffix(INBOUND))

    def _row_of(self, name: str) -> int:
        """The history row of entity ``name``, -1 when the history does not know it."""
        pos, known = self.history._rows(entity_hashes([name]))
        return int(pos[0]) if known[0] else -1

    def name(self, row: int) -> str:
        """The name of the known entity in history row ``row`` (a stand-in's)."""
        if self.history.names is None:
            raise DetectorError("this detector holds no entity names")
        return self.history.names.name(row)

    def weights(self) -> dict[str, float]:
        """Each evidence column's weight per standard deviation: what the detector relies on."""
        return {name: float(w) for name, w in zip(COLUMNS, self.coef, strict=True)}

    # storage -------------------------------------------------------------------------------

    def principal_history(self) -> History:
        """The history that knows the principals: the sign-in detector's, when split."""
        return (self.signin or self).history

    def _tensors(self) -> tuple[dict[str, np.ndarray], dict[str, str]]:
        tensors, meta = self._own_tensors()
        if self.signin is not None:
            signin_tensors, signin_meta = self.signin._own_tensors()
            tensors.update({f"signin.{k}": v for k, v in signin_tensors.items()})
            meta["signin"] = json.dumps(signin_meta, sort_keys=True)
        return tensors, meta

    def _own_tensors(self) -> tuple[dict[str, np.ndarray], dict[str, str]]:
        tensors = {f"history.{k}": v for k, v in self.history.tensors().items()}
        tensors.update({"mean": self.mean, "scale": self.scale, "coef": self.coef})
        meta = {
            "format": FORMAT,
            "format_version": str(FORMAT_VERSION),
            "columns": json.dumps(COLUMNS),
            "intercept": repr(float(self.intercept)),
            "blend": repr(float(self.blend)),
            "blend_unit": repr(float(self.blend_unit)),
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
        if meta.get("format_version") not in READS:
            raise DetectorError(
                f"{name}: detector format version {meta.get('format_version')} is not supported "
                f"(this lakewatch reads {', '.join(READS)})"
            )
        if json.loads(meta["columns"]) != list(COLUMNS):
            raise DetectorError(f"{name}: evidence columns {meta['columns']} differ from {COLUMNS}")
        found = cls._from_parts(
            {k: v for k, v in tensors.items() if not k.startswith("signin.")}, meta
        )
        if "signin" in meta:
            found.signin = cls._from_parts(
                {
                    k.removeprefix("signin."): v
                    for k, v in tensors.items()
                    if k.startswith("signin.")
                },
                json.loads(meta["signin"]),
            )
        return found

    @classmethod
    def _from_parts(cls, tensors: dict[str, np.ndarray], meta: dict[str, str]) -> Detector:
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
            float(meta.get("blend", "0.0")),
            float(meta.get("blend_unit", "1.0")),
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
    another pair's address (where that pair is another entity's). The first ``len(addrs)``
    are the random ones."""
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
    kind: np.ndarray | None = None  # per row: 0 normal, 1 random, 2 shuffled (NEGATIVE_KINDS)

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
        n = len(pos_hash)
        kind = np.full(len(all_hash), 2, np.int8)
        kind[: 2 * n] = np.repeat(np.array([0, 1], np.int8), n)
        return cls(all_hash, all_addrs, d, n, kind)


def fit_set(
    history: History,
    sample: FitSet,
    regularization: float = 1.0,
    fprs: tuple[float, ...] = (0.001, 0.01),
) -> Detector:
    """Fit the combination on half of a drawn ``FitSet`` and choose its baseline blend on the
    other half, at the false-positive rates ``fprs`` (the nightly target and ten times it)."""
    n_pos = sample.positives
    x = np.concatenate(
        [history.features(sample.entity_hash, sample.addrs), sample.dots[:, None]], axis=1
    )
    x = np.nan_to_num(x.astype(np.float64))
    kind = sample.kind
    if kind is None:  # one kind of negative
        kind = np.r_[np.zeros(n_pos, np.int8), np.ones(len(x) - n_pos, np.int8)]
    # a negative whose address the entity or its peers did use is no negative: dropped
    own = (x[:, COLUMNS.index("entity_32")] > 0) | (x[:, COLUMNS.index("peers_32")] > 0)
    own[:n_pos] = False
    x, kind = x[~own], kind[~own]
    choice = _choice_rows(kind)
    fitted = _fit_logistic(history, x[~choice], kind[~choice] == 0, regularization)
    # too few pairs to set half aside: the blend's units are read off the fit's own rows
    # (choose_blend then takes the baseline-first candidate, which needs no comparison)
    rows = choice if choice.any() else np.ones(kind.size, bool)
    fitted.blend, fitted.blend_unit, fitted.meta["blend"] = choose_blend(
        fitted, x[rows], kind[rows], fprs
    )
    fitted.meta.update(
        {"fit_pairs": n_pos, "fit_negatives": len(x) - n_pos, "dropped_negatives": int(own.sum())}
    )
    return fitted


MIN_CHOICE = 500  # held-out normal pairs the blend is chosen on, at least


def _choice_rows(kind: np.ndarray) -> np.ndarray:
    """Half of each class's rows, at random (none when the half would hold too few normal
    pairs to read a 0.1% quantile off: the logistic regression then gets every row)."""
    if (kind == 0).sum() < 2 * MIN_CHOICE:
        return np.zeros(kind.size, bool)
    return np.random.default_rng(0).random(kind.size) < 0.5


def _fit_logistic(
    history: History, x: np.ndarray, normal: np.ndarray, regularization: float
) -> Detector:
    y = normal.astype(np.float64)
    # Repeats of a known pair are the easy normal case; what the threshold must get right is
    # a pair new to its entity. Give those half of the positives' weight, however rare.
    novel = normal & (x[:, COLUMNS.index("entity_32")] == 0)
    share = novel.sum() / max(normal.sum(), 1)
    weight = np.ones(y.size)
    if 0 < share < 1:
        weight[normal] = np.where(novel[normal], 0.5 / share, 0.5 / (1 - share))
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    coef, intercept = monotone_logistic((x - mean) / scale, y, regularization, sample=weight)
    return Detector(history, mean, scale, coef, intercept)


def baseline_score(x: np.ndarray) -> np.ndarray:
    """The prefix-count baseline (``BASELINE``) of evidence rows ``x`` (``COLUMNS``)."""
    return sum(w * x[:, COLUMNS.index(c)] for c, w in BASELINE)  # type: ignore[return-value]


def _flagged(scores: np.ndarray, normal: np.ndarray, fpr: float) -> np.ndarray:
    """Which rows fall strictly under the normal scores' ``fpr`` quantile (the nightly
    threshold's rule: ties at the threshold are not flagged)."""
    ordered = np.sort(normal)
    return scores < ordered[min(int(np.floor(fpr * ordered.size)), ordered.size - 1)]


def mix(logit: np.ndarray, baseline: np.ndarray, blend: float, unit: float) -> np.ndarray:
    """The detector's score: ``blend`` of the baseline (in the logit's units), the rest the
    logit. 0 is the logistic regression alone; near 1, the baseline with the logit
    breaking its ties."""
    return (1.0 - blend) * logit + blend * unit * baseline


def choose_blend(
    fitted: Detector, x: np.ndarray, kind: np.ndarray, fprs: tuple[float, ...]
) -> tuple[float, float, dict[str, Any]]:
    """The baseline's share of the score (and its unit), chosen on held-out rows so that the
    detector cannot do worse than the baseline there.

    For each candidate of ``BLEND_STEPS`` and each false-positive rate, the true-positive rate
    on each kind of negative minus the baseline's own; the candidate whose worst margin is
    largest wins (then the one with the higher mean rate). The last candidate puts the
    baseline first and lets the logit order only its ties, so its margins are not below
    zero: whatever is chosen is at least the baseline on every kind, by construction. (The
    logistic regression alone was below the baseline on three of five independent sets.)
    """
    normal = kind == 0
    z, b = fitted.logit(x), baseline_score(x)
    spread = float(b[normal].std()) if normal.any() else 0.0
    if spread < 1e-9:
        return 0.0, 1.0, {"chosen": 0.0, "why": "the baseline is constant on held-out pairs"}
    unit = max(float(z[normal].std()), 1e-9) / spread
    if normal.sum() < MIN_CHOICE:
        # too few to compare candidates at 0.1%: the one that is the baseline by construction
        # (a small population, e.g. an organisation's principals: the logit alone, fit on a
        # few hundred pairs, was below the baseline there; docs/detector.md)
        last = BLEND_STEPS[-1]
        return last, unit, {"chosen": last, "why": f"under {MIN_CHOICE} held-out normal pairs"}
    base = {fpr: _flagged(b, b[normal], fpr) for fpr in fprs}
    kinds = [k for k in np.unique(kind) if k != 0]
    table = []
    for step in BLEND_STEPS:
        s = mix(z, b, step, unit)
        tpr, margin = [], []
        for fpr in fprs:
            hit = _flagged(s, s[normal], fpr)
            for k in kinds:
                m = kind == k
                tpr.append(float(hit[m].mean()))
                margin.append(tpr[-1] - float(base[fpr][m].mean()))
        table.append({"step": step, "worst_margin": min(margin), "mean_tpr": float(np.mean(tpr))})
    best = max(table, key=lambda r: (round(r["worst_margin"], 3), r["mean_tpr"]))
    return best["step"], unit, {"chosen": best["step"], "fprs": list(fprs), "candidates": table}


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
    from threadpoolctl import threadpool_limits

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
    # one BLAS thread: the products are thin (13 columns) and between them the element-wise
    # steps run on one core, where BLAS's waiting threads slowed them (1.7 -> 1.0 s at 210,853
    # rows on 2 cores; the weights the same to 1e-9)
    with threadpool_limits(1, user_api="blas"):
        result = minimize(
            loss, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B", bounds=bounds
        )
    return result.x[:-1].astype(np.float64), float(result.x[-1])


def build(
    train_hash: np.ndarray,
    train_addrs: Addresses,
    holdout_hash: np.ndarray,
    holdout_addrs: Addresses,
    dots: DotFn,
    seed: int = 0,
    model_done: Callable[[], None] | None = None,
    names: dict[str, int] | None = None,
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
    fitted = fit_set(History.build(train_hash, train_addrs, names=names), sample)
    fitted.meta.update({"history_pairs": len(train_hash), "weights": fitted.weights()})
    return fitted


MIN_SIGNIN_PAIRS = 50  # training pairs of principals a detector of their own needs


def build_split(
    train_hash: np.ndarray,
    train_addrs: Addresses,
    holdout_hash: np.ndarray,
    holdout_addrs: Addresses,
    dots: DotFn,
    principals: np.ndarray,
    holdout_principals: np.ndarray,
    seed: int = 0,
    model_done: Callable[[], None] | None = None,
    names: dict[str, int] | None = None,
) -> Detector:
    """``build`` for a model trained on instances and principals together: one detector on
    the instances' pairs, another (``Detector.signin``) on the principals', each with its own
    history and weights (one fit over both let the larger population's evidence weights rule
    the other's; ``bench/signin_model.py``). ``principals``/``holdout_principals`` mark the
    principals' pairs. Too few of either population's pairs: one detector, as ``build``."""
    enough = (
        principals.sum() >= MIN_SIGNIN_PAIRS
        and holdout_principals.any()
        and (~principals).sum() >= MIN_SIGNIN_PAIRS
        and (~holdout_principals).any()
    )
    if not enough:
        return build(
            train_hash, train_addrs, holdout_hash, holdout_addrs, dots, seed, model_done, names
        )
    network = build(
        train_hash[~principals],
        train_addrs.take(np.flatnonzero(~principals)),
        holdout_hash[~holdout_principals],
        holdout_addrs.take(np.flatnonzero(~holdout_principals)),
        dots,
        seed,
        None,
        names,
    )
    network.signin = build(
        train_hash[principals],
        train_addrs.take(np.flatnonzero(principals)),
        holdout_hash[holdout_principals],
        holdout_addrs.take(np.flatnonzero(holdout_principals)),
        dots,
        seed,
        model_done,
        names,
    )
    network.meta["signin"] = network.signin.meta
    return network


def concat_addresses(*parts: Addresses) -> Addresses:
    return Addresses(
        np.concatenate([p.family for p in parts]),
        np.concatenate([p.hi for p in parts]),
        np.concatenate([p.lo for p in parts]),
    )


INBOUND = "/in"  # the ingress view's entity: an instance's id and this (include/sql/_macros.sql)


def _names_at(entities, rows: np.ndarray) -> list[str]:
    """The names at ``rows`` of a list, an array or an Arrow array of names (only those made
    Python strings: a large object's pairs stay Arrow)."""
    if isinstance(entities, list | np.ndarray):
        return [str(entities[i]) for i in rows.tolist()]
    import pyarrow as pa

    return [str(n) for n in entities.take(pa.array(rows)).to_pylist()]
