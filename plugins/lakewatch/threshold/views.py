"""Thresholds per view, adopted only where measurably better than one pooled threshold.

Inbound pairs (an instance's ``<id>/in`` entity and the address that reached it) and outbound
ones (the addresses it reached, or resolved) may score on different scales: a threshold at the
target false-positive rate within each view keeps the overall rate at the target and can catch
more. Each night measures it on the night's sets: both views' thresholds, the recall of the
abnormal sets under the pooled threshold and under the per-view ones, and a paired bootstrap
interval of the difference. Per-view thresholds are adopted only when each view has enough
normal pairs to read its threshold from at least ``MIN_TAIL`` scores and the interval's lower
bound is above zero; the scorer then shifts each view's scores by its offset from the pooled
threshold, so every comparison downstream (pairs, incidents, scans) applies the view's own.
The extract's CSV names no view; the ``/in`` suffix is what tells inbound from outbound (DNS
answers count as outbound).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from lakewatch.extract.views import View
from lakewatch.lake.principals import is_principal
from lakewatch.threshold.choose import MIN_TAIL, threshold_for_fpr

INBOUND, OUTBOUND = "inbound", "outbound"
VIEWS = (OUTBOUND, INBOUND)


def view_of(entity: str) -> str:
    return INBOUND if entity.endswith("/in") else OUTBOUND


def view_of_pair(view: str) -> str:
    """A finding's view (``ingress_peer``, ``egress_peer``, ``dns_answer``) as a threshold view."""
    return INBOUND if view == View.INGRESS_PEER else OUTBOUND


@dataclass
class ViewComparison:
    adopted: bool
    reason: str
    thresholds: dict[str, float] = field(default_factory=dict)
    offsets: dict[str, float] = field(default_factory=dict)  # view threshold - pooled
    normal_pairs: dict[str, int] = field(default_factory=dict)
    abnormal_pairs: dict[str, int] = field(default_factory=dict)
    pooled_recall: float = 0.0
    per_view_recall: float = 0.0
    gain_low: float = 0.0  # 95% paired-bootstrap interval of per-view minus pooled recall
    gain_high: float = 0.0
    per_view_fpr: float = 0.0  # on the whole normal set

    def to_json(self) -> dict:
        return asdict(self)


def compare_views(
    normal: np.ndarray,
    normal_entities: list[str],
    abnormal: dict[str, np.ndarray],
    abnormal_entities: dict[str, list[str]],
    target_fpr: float,
    pooled_threshold: float,
    *,
    resamples: int = 1000,
    seed: int = 0,
) -> ViewComparison:
    normal = np.asarray(normal, dtype=np.float64)
    views = np.array([view_of(e) for e in normal_entities])
    counts = {v: int((views == v).sum()) for v in VIEWS}
    needed = math.ceil(MIN_TAIL / target_fpr) if target_fpr > 0 else 0
    kinds = [k for k in abnormal if k in abnormal_entities]
    parts = [np.asarray(abnormal[k], np.float64) for k in kinds]
    scores = np.concatenate(parts) if parts else np.zeros(0)
    bad_views = np.array([view_of(e) for k in kinds for e in abnormal_entities[k]])
    comparison = ViewComparison(
        adopted=False,
        reason="",
        normal_pairs=counts,
        abnormal_pairs={v: int((bad_views == v).sum()) for v in VIEWS},
    )
    short = [v for v in VIEWS if counts[v] < needed]
    if short or len(normal) != len(views) or not scores.size:
        comparison.reason = (
            f"not measurable: {', '.join(f'{v} has {counts[v]:,}' for v in short)} normal pairs "
            f"of the {needed:,} that put {MIN_TAIL} under its threshold at {target_fpr:.2%}"
            if short
            else "not measurable: no abnormal pairs with their entities"
        )
        return comparison
    thresholds = {v: threshold_for_fpr(normal[views == v], target_fpr) for v in VIEWS}
    per_view = np.array([thresholds[v] for v in bad_views])
    pooled_hits = (scores < pooled_threshold).astype(np.float64)
    view_hits = (scores < per_view).astype(np.float64)
    diff = view_hits - pooled_hits
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, diff.size, (resamples, diff.size))
    low, high = np.quantile(diff[draws].mean(axis=1), [0.025, 0.975])
    normal_thresholds = np.array([thresholds[v] for v in views])
    comparison.thresholds = thresholds
    comparison.offsets = {v: thresholds[v] - pooled_threshold for v in VIEWS}
    comparison.pooled_recall = float(pooled_hits.mean())
    comparison.per_view_recall = float(view_hits.mean())
    comparison.gain_low, comparison.gain_high = float(low), float(high)
    comparison.per_view_fpr = float((normal < normal_thresholds).mean())
    comparison.adopted = bool(low > 0)
    comparison.reason = (
        f"per-view recall {comparison.per_view_recall:.1%} against pooled "
        f"{comparison.pooled_recall:.1%} (gain 95% interval {low:+.1%} to {high:+.1%}): "
        + ("adopted" if comparison.adopted else "not measurably better, pooled kept")
    )
    return comparison


# A sign-in threshold needs at least this many distinct normal sign-in pairs (under it the
# principals share the network views' pooled threshold, as before there was one)
MIN_SIGNIN_NORMAL = 20


@dataclass
class SigninThreshold:
    """The signin view's own threshold: the target-FPR quantile of the night's normal sign-in
    pairs, published as ``view_offsets["signin"]`` (its distance from the network threshold,
    which the network pairs alone now set)."""

    normal_pairs: int = 0
    threshold: float | None = None
    offset: float | None = None
    recall: dict[str, float] = field(default_factory=dict)  # synthetic abnormal sign-ins
    reason: str = ""

    def to_json(self) -> dict:
        return asdict(self)


def split_populations(
    normal: np.ndarray,
    normal_entities: list[str],
    abnormal: dict[str, np.ndarray],
    abnormal_entities: dict[str, list[str]],
) -> tuple[tuple[np.ndarray, list[str], dict, dict], tuple[np.ndarray, dict[str, np.ndarray]]]:
    """The night's sets as (network normal, its entities, abnormal, their entities) and
    (sign-in normal, sign-in abnormal): principals and instances are thresholded apart. Sets
    whose entities are not recorded (scores written before them) stay whole, as network."""
    normal = np.asarray(normal, np.float64)
    if len(normal_entities) != len(normal):
        return (normal, normal_entities, abnormal, abnormal_entities), (np.zeros(0), {})
    is_signin = np.array([is_principal(e) for e in normal_entities], bool)
    net_ab, net_ents, sign_ab = {}, {}, {}
    for kind, scores in abnormal.items():
        ents = abnormal_entities.get(kind)
        if ents is None or len(ents) != len(scores):
            net_ab[kind] = scores
            continue
        mask = np.array([is_principal(e) for e in ents], bool)
        values = np.asarray(scores, np.float64)
        if (~mask).any():
            net_ab[kind] = values[~mask]
            net_ents[kind] = [e for e, m in zip(ents, mask, strict=True) if not m]
        if mask.any():
            sign_ab[kind] = values[mask]
    network = (
        normal[~is_signin],
        [e for e, m in zip(normal_entities, is_signin, strict=True) if not m],
        net_ab,
        net_ents,
    )
    return network, (normal[is_signin], sign_ab)


def signin_threshold(
    normal: np.ndarray, abnormal: dict[str, np.ndarray], target_fpr: float, pooled: float
) -> SigninThreshold:
    """The sign-in pairs' own threshold at ``target_fpr`` (None under ``MIN_SIGNIN_NORMAL``
    normal pairs: they keep the pooled one)."""
    normal = np.asarray(normal, np.float64)
    out = SigninThreshold(normal_pairs=int(normal.size))
    if normal.size < MIN_SIGNIN_NORMAL:
        out.reason = (
            f"{normal.size} normal sign-in pairs (fewer than {MIN_SIGNIN_NORMAL}): sign-ins "
            "keep the network threshold"
            if normal.size
            else "no sign-in pairs"
        )
        return out
    out.threshold = threshold_for_fpr(normal, target_fpr)
    out.offset = out.threshold - pooled
    out.recall = {k: float((np.asarray(v) < out.threshold).mean()) for k, v in abnormal.items()}
    out.reason = (
        f"{out.threshold:.4f} at {target_fpr:.2%} of {normal.size:,} normal sign-in pairs "
        f"(offset {out.offset:+.4f} from the network threshold)"
        + (
            f"; the quantile is the set's {int(np.floor(target_fpr * normal.size)) + 1}th "
            "lowest score"
            if np.floor(target_fpr * normal.size) < MIN_TAIL
            else ""
        )
    )
    return out
