"""metrics: the AUC is the Mann-Whitney probability (ties half), the ROC curve runs from (0, 0)
to (1, 1) through the right points, and the Poisson tail matches its definition."""

import math

import numpy as np
import pytest

from lakewatch.metrics import poisson_sf, roc_auc, roc_curve


def _brute_auc(pos, neg):
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


@pytest.mark.parametrize("seed", range(5))
def test_auc_equals_the_pairwise_count_with_ties(seed):
    rng = np.random.default_rng(seed)
    pos = rng.integers(0, 6, 40).astype(float)  # few distinct values: many ties
    neg = rng.integers(-2, 4, 55).astype(float)
    assert roc_auc(pos, neg) == pytest.approx(_brute_auc(pos, neg), abs=1e-12)


def test_auc_bounds_and_refusal():
    assert roc_auc(np.array([2.0, 3.0]), np.array([0.0, 1.0])) == 1.0
    assert roc_auc(np.array([0.0]), np.array([1.0])) == 0.0
    assert roc_auc(np.array([1.0]), np.array([1.0])) == 0.5
    with pytest.raises(ValueError, match="at least one positive"):
        roc_auc(np.array([]), np.array([1.0]))


def test_roc_curve_points_and_area():
    pos, neg = np.array([3.0, 2.0, 2.0]), np.array([2.0, 1.0])
    fpr, tpr, thresholds = roc_curve(pos, neg)
    assert list(zip(fpr, tpr, strict=True)) == [(0, 0), (0, 1 / 3), (0.5, 1), (1, 1)]
    assert thresholds[0] == np.inf and list(thresholds[1:]) == [3.0, 2.0, 1.0]
    assert np.trapezoid(tpr, fpr) == pytest.approx(roc_auc(pos, neg))


@pytest.mark.parametrize(("k", "lam"), [(0, 2.0), (1, 0.5), (3, 2.0), (10, 4.0)])
def test_poisson_tail(k, lam):
    below = sum(math.exp(-lam) * lam**i / math.factorial(i) for i in range(k))
    assert poisson_sf(k, lam) == pytest.approx(1 - below, abs=1e-12)
