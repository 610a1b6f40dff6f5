"""Metrics shared by the model, the threshold and the scorer: ROC AUC and curve, and the
Poisson tail that tells a flag count from the normal tail."""

from __future__ import annotations

import math

import numpy as np


def roc_auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """P(score of a random positive > score of a random negative), ties counted as half.

    The Mann-Whitney form of the area under the ROC curve, exact for ties, O(n log n).
    """
    positive = np.asarray(positive, dtype=np.float64)
    negative = np.asarray(negative, dtype=np.float64)
    if positive.size == 0 or negative.size == 0:
        raise ValueError("AUC needs at least one positive and one negative score")
    scores = np.concatenate([positive, negative])
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(scores.size, dtype=np.float64)
    sorted_scores = scores[order]
    # average ranks over ties
    starts = np.flatnonzero(np.concatenate([[True], sorted_scores[1:] != sorted_scores[:-1]]))
    ends = np.concatenate([starts[1:], [scores.size]])
    avg = (starts + ends - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(avg, ends - starts)
    rank_sum = ranks[: positive.size].sum()
    u = rank_sum - positive.size * (positive.size + 1) / 2.0
    return float(u / (positive.size * negative.size))


def roc_curve(
    positive: np.ndarray, negative: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(false positive rate, true positive rate, threshold) for 'positive if score >= t'."""
    scores = np.concatenate([positive, negative]).astype(np.float64)
    labels = np.concatenate([np.ones(len(positive)), np.zeros(len(negative))])
    order = np.argsort(-scores, kind="mergesort")
    scores, labels = scores[order], labels[order]
    distinct = np.flatnonzero(np.concatenate([scores[1:] != scores[:-1], [True]]))
    tps = np.cumsum(labels)[distinct]
    fps = (distinct + 1) - tps
    tpr = np.concatenate([[0.0], tps / max(len(positive), 1)])
    fpr = np.concatenate([[0.0], fps / max(len(negative), 1)])
    thresholds = np.concatenate([[np.inf], scores[distinct]])
    return fpr, tpr, thresholds


def poisson_sf(k: int, lam: float) -> float:
    """P(X >= k) for X ~ Poisson(lam)."""
    if k <= 0:
        return 1.0
    term = total = math.exp(-lam)
    for i in range(1, k):
        term *= lam / i
        total += term
    return max(0.0, 1.0 - total)
