"""Threshold maths. A pair is flagged when its score is strictly below the threshold.

``threshold_for_fpr`` picks the largest threshold whose false-positive rate on the normal scores
is at most the target: the k-th smallest normal score, k = floor(target x n). Ties never push
the rate over the target (only scores strictly below count), and a target below 1/n gives the
smallest normal score (no normal pair flagged).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from lakewatch.metrics import poisson_sf, roc_auc, roc_curve


class ThresholdError(ValueError):
    """The scores cannot support a threshold (empty, not finite)."""


def _clean(scores, name: str) -> np.ndarray:
    arr = np.asarray(scores, dtype=np.float64)
    if arr.size == 0:
        raise ThresholdError(f"no {name} scores")
    if not np.isfinite(arr).all():
        raise ThresholdError(f"{int((~np.isfinite(arr)).sum())} {name} scores are not finite")
    return arr


def threshold_for_fpr(normal, target_fpr: float) -> float:
    if not 0.0 <= target_fpr < 1.0:
        raise ThresholdError(f"target false-positive rate must be in [0, 1), not {target_fpr}")
    ordered = np.sort(_clean(normal, "normal"))
    k = int(np.floor(target_fpr * ordered.size))
    return float(ordered[min(k, ordered.size - 1)])


MIN_TAIL = 10  # normal scores under a threshold needed to read it off the normal set


def tail_threshold(normal, fpr: float, tail_fpr: float) -> float:
    """The threshold at ``fpr``, extrapolated when too few normal scores fall under it.

    With fewer than ``MIN_TAIL`` scores under it, the empirical quantile is one or two
    extreme scores: on the demo's nightly set of 7,000 pairs the 0.01% quantile is its
    minimum, -4.2 one night against -1.8 the next. Then the scores under the ``tail_fpr``
    quantile ``u`` are modelled as an exponential tail (peaks over threshold, a generalised
    Pareto of shape 0): P(score < u - x) = tail_fpr * exp(-x / beta), beta their mean distance
    under ``u``."""
    arr = _clean(normal, "normal")
    if not 0.0 < fpr < tail_fpr < 1.0:
        raise ThresholdError(f"need 0 < fpr < tail_fpr < 1, not {fpr} and {tail_fpr}")
    if np.floor(fpr * arr.size) >= MIN_TAIL:
        return threshold_for_fpr(arr, fpr)
    u = threshold_for_fpr(arr, tail_fpr)
    below = arr[arr < u]
    if below.size < MIN_TAIL:  # no tail to fit: the smallest score is all there is
        return threshold_for_fpr(arr, fpr)
    beta = float((u - below).mean())
    return float(u - beta * np.log(tail_fpr / fpr))


def flagged_rate(scores, threshold: float) -> float:
    arr = np.asarray(scores, dtype=np.float64)
    return float((arr < threshold).mean()) if arr.size else 0.0


def precision_at(recall: float, fpr: float, anomaly_rate: float) -> float:
    """Precision when anomalies make up ``anomaly_rate`` of the pairs scored."""
    flagged = anomaly_rate * recall + (1 - anomaly_rate) * fpr
    return float(anomaly_rate * recall / flagged) if flagged > 0 else 1.0


@dataclass
class Operating:
    """A threshold and what it gives."""

    threshold: float
    fpr: float
    recall: float
    recall_by_kind: dict[str, float] = field(default_factory=dict)
    precision: float = 0.0
    f1: float = 0.0
    fpr_low: float = 0.0  # 95% Clopper-Pearson interval of the FPR on the normal set
    fpr_high: float = 0.0


def fpr_interval(flagged: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval of a rate seen as ``flagged`` of ``n``: what the
    nightly FPR estimate can promise, given the size of the normal set."""
    from scipy.stats import beta

    if n <= 0:
        return 0.0, 1.0
    alpha = 1 - level
    low = float(beta.ppf(alpha / 2, flagged, n - flagged + 1)) if flagged > 0 else 0.0
    high = float(beta.ppf(1 - alpha / 2, flagged + 1, n - flagged)) if flagged < n else 1.0
    return low, high


@dataclass
class Evaluation:
    chosen: Operating
    auc: float
    auc_by_kind: dict[str, float]
    alternatives: dict[str, Operating]
    sizes: dict[str, int]
    normal_quantiles: dict[str, float]

    def to_json(self) -> dict:
        return asdict(self)


def operating_point(
    threshold: float, normal: np.ndarray, abnormal: dict[str, np.ndarray], anomaly_rate: float
) -> Operating:
    every = np.concatenate(list(abnormal.values()))
    fpr = flagged_rate(normal, threshold)
    recall = flagged_rate(every, threshold)
    precision = precision_at(recall, fpr, anomaly_rate)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    low, high = fpr_interval(int((normal < threshold).sum()), int(normal.size))
    return Operating(
        threshold,
        fpr,
        recall,
        {k: flagged_rate(v, threshold) for k, v in abnormal.items()},
        precision,
        f1,
        low,
        high,
    )


def evaluate(
    normal, abnormal: dict[str, np.ndarray], target_fpr: float, anomaly_rate: float
) -> Evaluation:
    """The chosen threshold, its metrics, and the max-F1 and Youden alternatives."""
    normal = _clean(normal, "normal")
    abnormal = {k: _clean(v, f"abnormal ({k})") for k, v in abnormal.items()}
    if not abnormal:
        raise ThresholdError("no abnormal scores")
    every = np.concatenate(list(abnormal.values()))
    chosen = operating_point(threshold_for_fpr(normal, target_fpr), normal, abnormal, anomaly_rate)
    # anomalies score low, so treat "abnormal" as the positive class on -score
    fpr, tpr, thresholds = roc_curve(-every, -normal)
    youden = -thresholds[int(np.argmax(tpr - fpr))]
    candidates = np.unique(np.quantile(np.concatenate([normal, every]), np.linspace(0, 1, 201)))
    f1s = [operating_point(t, normal, abnormal, anomaly_rate).f1 for t in candidates]
    alternatives = {
        "max_f1": operating_point(
            float(candidates[int(np.argmax(f1s))]), normal, abnormal, anomaly_rate
        ),
        "youden": operating_point(
            float(np.nextafter(youden, np.inf)) if np.isfinite(youden) else float(normal.min()),
            normal,
            abnormal,
            anomaly_rate,
        ),
    }
    return Evaluation(
        chosen=chosen,
        auc=roc_auc(normal, every),
        auc_by_kind={k: roc_auc(normal, v) for k, v in abnormal.items()},
        alternatives=alternatives,
        sizes={"normal": int(normal.size), **{k: int(v.size) for k, v in abnormal.items()}},
        normal_quantiles={
            f"p{q:g}": float(np.quantile(normal, q / 100)) for q in (0.1, 1, 5, 25, 50, 75)
        },
    )


def entity_rates(
    entities, normal, target_fpr: float, alpha: float = 0.01, floor: float = 2.0
) -> dict[str, float]:
    """Each entity's own rate of normal pairs under the threshold, where it is clearly above
    the target: a public web server meets new clients all day, so its flags are weaker
    evidence.

    At the target itself an entity has too few flags to tell (a 0.1% target leaves a handful
    among thousands of normal pairs), so its tail is measured at fifty times the target: its
    pairs under the normal scores' 5% quantile (at a 0.1% target), against the pool's share.
    Only entities whose excess is significant (Poisson, ``alpha``) and at least ``floor`` x
    are kept, with the target scaled by their excess; the scorer assumes the target for the
    rest."""
    names = np.asarray(list(entities))
    scores = np.asarray(normal, dtype=np.float64)
    if names.size != scores.size:
        raise ThresholdError(f"{names.size} entities for {scores.size} normal scores")
    if names.size == 0 or target_fpr <= 0:
        return {}
    below = scores < threshold_for_fpr(scores, min(0.5, 50 * target_fpr))
    share = max(float(below.mean()), 1.0 / scores.size)
    uniq, inverse = np.unique(names, return_inverse=True)
    n = np.bincount(inverse, minlength=uniq.size)
    k = np.bincount(inverse, weights=below, minlength=uniq.size).astype(np.int64)
    out = {}
    for e, n_e, k_e in zip(uniq, n, k, strict=True):
        factor = k_e / (n_e * share)
        if factor > floor and poisson_sf(int(k_e), n_e * share) < alpha:
            out[str(e)] = round(float(min(1.0, target_fpr * factor)), 6)
    return out
