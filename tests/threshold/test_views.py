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


def test_principals_are_told_from_instances_by_their_form():
    from lakewatch.threshold.views import is_principal

    assert is_principal("arn:aws:iam::111122223333:user/ops") and is_principal("sso:ann.lee")
    assert is_principal("arn:aws:iam::111122223333:role/ci")
    assert not is_principal("i-0abc") and not is_principal("i-0abc/in")


def test_signins_get_their_own_threshold_and_the_network_pairs_set_the_pooled_one():
    from lakewatch.threshold.views import signin_threshold, split_populations

    rng = np.random.default_rng(1)
    net = rng.normal(3, 1, 5_000)
    signin = rng.normal(8, 1, 400)  # sign-ins score on a scale of their own
    normal = np.concatenate([net, signin])
    entities = [f"i-{k % 40}" for k in range(5_000)] + [f"sso:p{k % 30}" for k in range(400)]
    abnormal = {"random_public": np.concatenate([rng.normal(-1, 0.5, 100), np.full(50, 5.0)])}
    bad = {"random_public": [f"i-{k}" for k in range(100)] + ["sso:p1"] * 50}
    (n_normal, n_entities, n_abnormal, n_bad), (s_normal, s_abnormal) = split_populations(
        normal, entities, abnormal, bad
    )
    assert n_normal.size == len(n_entities) == 5_000 and n_bad["random_public"][0] == "i-0"
    assert n_abnormal["random_public"].size == 100 and s_abnormal["random_public"].size == 50
    assert s_normal.size == 400
    pooled = threshold_for_fpr(n_normal, TARGET)
    got = signin_threshold(s_normal, s_abnormal, TARGET, pooled)
    assert got.threshold == threshold_for_fpr(signin, TARGET)
    assert got.offset == pytest.approx(got.threshold - pooled) and got.offset > 2
    assert got.recall == {"random_public": 1.0}  # 5.0 is far under the sign-ins' threshold
    assert "of 400 normal sign-in pairs" in got.reason and got.to_json()["normal_pairs"] == 400


def test_too_few_signins_keep_the_network_threshold_and_old_scores_stay_whole():
    from lakewatch.threshold.views import MIN_SIGNIN_NORMAL, signin_threshold, split_populations

    got = signin_threshold(np.zeros(MIN_SIGNIN_NORMAL - 1), {}, TARGET, -1.0)
    assert got.threshold is None and got.offset is None and "keep the network" in got.reason
    assert signin_threshold(np.zeros(0), {}, TARGET, -1.0).reason == "no sign-in pairs"
    (n_normal, _, n_abnormal, _), (s_normal, _) = split_populations(
        np.ones(3), [], {"shuffled": np.ones(2)}, {}
    )  # scores written before the entities were recorded
    assert n_normal.size == 3 and n_abnormal["shuffled"].size == 2 and s_normal.size == 0
