"""threshold.views: per-view thresholds are adopted only where measurably better than the pooled
one (each view's threshold read from enough normal pairs, the recall gain's interval above
zero), keep the overall false-positive rate at the target, and say why they were or were not."""

import numpy as np
import pytest

from lakewatch.threshold.choose import threshold_for_fpr
from lakewatch.threshold.views import INBOUND, OUTBOUND, compare_views, view_of, view_of_pair

TARGET = 0.001


def _sets(inbound_mean: float, n: int = 12_000, seed: int = 0):
    rng = np.random.default_rng(seed)
    normal = np.concatenate([rng.normal(3, 1, n), rng.normal(inbound_mean, 1, n)])
    entities = [f"i-{k % 50}" for k in range(n)] + [f"i-{k % 50}/in" for k in range(n)]
    abnormal = {"random_public": rng.normal(-1, 0.5, 600)}
    bad_entities = {"random_public": [f"i-{k % 50}" for k in range(600)]}
    return normal, entities, abnormal, bad_entities


def test_views_on_different_scales_get_their_own_thresholds():
    normal, entities, abnormal, bad = _sets(inbound_mean=0.0)
    pooled = threshold_for_fpr(normal, TARGET)
    got = compare_views(normal, entities, abnormal, bad, TARGET, pooled)
    assert got.adopted and got.gain_low > 0.5
    assert got.thresholds[OUTBOUND] > pooled > got.thresholds[INBOUND] - 1
    assert got.offsets[OUTBOUND] == pytest.approx(got.thresholds[OUTBOUND] - pooled)
    assert got.per_view_fpr <= 2 * TARGET  # the overall rate stays at the target
    assert got.per_view_recall > 0.9 > got.pooled_recall
    assert "adopted" in got.reason and got.to_json()["normal_pairs"] == {
        OUTBOUND: 12_000,
        INBOUND: 12_000,
    }


def test_views_on_one_scale_keep_the_pooled_threshold():
    normal, entities, abnormal, bad = _sets(inbound_mean=3.0)
    got = compare_views(normal, entities, abnormal, bad, TARGET, threshold_for_fpr(normal, TARGET))
    assert not got.adopted and got.gain_low <= 0
    assert "not measurably better, pooled kept" in got.reason


def test_too_few_normal_pairs_in_a_view_is_not_measurable():
    normal, entities, abnormal, bad = _sets(inbound_mean=0.0, n=3_000)
    got = compare_views(normal, entities, abnormal, bad, TARGET, threshold_for_fpr(normal, TARGET))
    assert not got.adopted and got.thresholds == {}
    assert "outbound has 3,000, inbound has 3,000 normal pairs of the 10,000" in got.reason


def test_views_of_entities_and_findings():
    assert view_of("i-1/in") == INBOUND and view_of("i-1") == OUTBOUND
    assert view_of_pair("ingress_peer") == INBOUND
    assert view_of_pair("egress_peer") == view_of_pair("dns_answer") == OUTBOUND
