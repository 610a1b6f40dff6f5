import numpy as np
import pytest

from lakewatch.threshold.choose import (
    ThresholdError,
    evaluate,
    flagged_rate,
    precision_at,
    tail_threshold,
    threshold_for_fpr,
)


def test_fpr_quantile_keeps_the_rate_at_or_under_target():
    rng = np.random.default_rng(0)
    normal = rng.normal(size=10_000)
    for target in (0.0, 0.0005, 0.001, 0.01, 0.1, 0.5):
        t = threshold_for_fpr(normal, target)
        assert flagged_rate(normal, t) <= target
        # and it is the largest such threshold: the next normal score would exceed the target
        above = np.sort(normal)[np.searchsorted(np.sort(normal), t, side="right") :]
        if above.size and target > 0:
            assert flagged_rate(normal, above[0]) > target or above[0] == t


def test_ties_never_push_the_rate_over():
    normal = np.array([1.0] * 50 + [2.0] * 50)
    t = threshold_for_fpr(normal, 0.3)
    assert t == 1.0 and flagged_rate(normal, t) == 0.0
    t = threshold_for_fpr(normal, 0.6)
    assert t == 2.0 and flagged_rate(normal, t) == 0.5


def test_tiny_sets():
    assert threshold_for_fpr([3.0], 0.001) == 3.0
    assert threshold_for_fpr([5.0, 1.0], 0.5) == 5.0  # k=1: flags the 1.0, rate 0.5
    assert flagged_rate([5.0, 1.0], 5.0) == 0.5


def test_all_equal_scores():
    normal = np.full(100, 0.7)
    ev = evaluate(normal, {"a": np.full(100, 0.7)}, 0.01, 0.01)
    assert ev.chosen.threshold == 0.7 and ev.chosen.fpr == 0.0 and ev.chosen.recall == 0.0
    assert ev.auc == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("normal", "target", "message"),
    [
        ([], 0.01, "no normal scores"),
        ([1.0, np.nan], 0.01, "not finite"),
        ([1.0], 1.0, r"in \[0, 1\)"),
    ],
)
def test_bad_inputs(normal, target, message):
    with pytest.raises(ThresholdError, match=message):
        threshold_for_fpr(normal, target)


def test_precision_at_expected_rate():
    assert precision_at(1.0, 0.0, 0.01) == 1.0
    assert precision_at(0.5, 0.01, 0.01) == pytest.approx(0.005 / (0.005 + 0.0099))
    assert precision_at(0.0, 0.0, 0.01) == 1.0  # nothing flagged


def test_evaluate_reports_kinds_and_alternatives():
    rng = np.random.default_rng(1)
    normal = rng.normal(2.0, 1.0, 5000)
    abnormal = {"far": rng.normal(-3.0, 1.0, 1000), "near": rng.normal(1.0, 1.0, 1000)}
    ev = evaluate(normal, abnormal, 0.01, 0.01)
    assert ev.chosen.fpr <= 0.01
    assert ev.chosen.recall_by_kind["far"] > 0.9 > ev.chosen.recall_by_kind["near"]
    assert ev.auc_by_kind["far"] > ev.auc_by_kind["near"] > 0.6
    assert set(ev.alternatives) == {"max_f1", "youden"}
    youden = ev.alternatives["youden"]
    assert youden.recall - youden.fpr >= ev.chosen.recall - ev.chosen.fpr - 1e-9
    assert ev.sizes == {"normal": 5000, "far": 1000, "near": 1000}


def test_the_fpr_comes_with_an_exact_interval_that_tightens_with_the_normal_set():
    from lakewatch.threshold.choose import fpr_interval

    low, high = fpr_interval(20, 20_000)
    assert low < 0.001 < high
    assert (round(low, 4), round(high, 4)) == (0.0006, 0.0015)
    low100, high100 = fpr_interval(100, 100_000)
    assert high100 - low100 < (high - low) / 2  # five times the pairs: a tighter interval
    assert fpr_interval(0, 1000)[0] == 0.0 and fpr_interval(0, 1000)[1] > 0.003
    rng = np.random.default_rng(0)
    ev = evaluate(rng.normal(size=50_000), {"a": rng.normal(-3, 1, 500)}, 0.001, 0.001)
    assert ev.chosen.fpr_low <= ev.chosen.fpr <= ev.chosen.fpr_high
    assert ev.to_json()["chosen"]["fpr_high"] > 0


def test_entity_rates_name_only_entities_with_a_heavy_tail():
    from lakewatch.threshold.choose import ThresholdError, entity_rates

    rng = np.random.default_rng(0)
    entities = [f"i-{k % 100}" for k in range(20_000)] + ["web/in"] * 400 + ["once"] * 3
    normal = np.concatenate([rng.normal(0, 1, 20_000), rng.normal(-2.5, 1, 400), [-9, 0, 1]])
    rates = entity_rates(entities, normal, 0.001)
    # the hundred ordinary entities' chance flags are not an excess; one flag in three pairs
    # is too little to tell
    assert list(rates) == ["web/in"] and 0.01 < rates["web/in"] < 0.5
    assert entity_rates([], [], 0.001) == {}
    with pytest.raises(ThresholdError, match="2 entities for 3 normal scores"):
        entity_rates(["a", "b"], [1.0, 2.0, 3.0], 0.001)


def test_poisson_sf():
    from lakewatch.metrics import poisson_sf

    assert poisson_sf(0, 3.0) == 1.0
    assert abs(poisson_sf(1, 0.5) - (1 - np.exp(-0.5))) < 1e-12
    assert abs(poisson_sf(2, 1.0) - (1 - 2 * np.exp(-1.0))) < 1e-12


def test_tail_threshold_reads_the_quantile_when_enough_scores_fall_under_it():
    normal = np.random.default_rng(0).logistic(size=200_000)  # 20 under the 0.01% quantile
    assert tail_threshold(normal, 1e-4, 1e-2) == threshold_for_fpr(normal, 1e-4)


def test_tail_threshold_extrapolates_a_small_set_closer_to_the_truth():
    """7,000 normal scores (the demo's nightly set) put the 0.01% quantile on the smallest
    score; the exponential tail fitted below the 1% quantile is nearer the truth, and far
    steadier from night to night."""
    truth = np.log(1e-4 / (1 - 1e-4))  # the logistic distribution's 0.01% quantile
    empirical, fitted = [], []
    for seed in range(100):
        normal = np.random.default_rng(seed).logistic(size=7_000)
        empirical.append(threshold_for_fpr(normal, 1e-4))
        fitted.append(tail_threshold(normal, 1e-4, 1e-2))
    empirical_error = np.abs(np.array(empirical) - truth).mean()
    fitted_error = np.abs(np.array(fitted) - truth).mean()
    assert fitted_error < 0.6 * empirical_error
    assert np.std(fitted) < 0.6 * np.std(empirical)


def test_tail_threshold_ignores_one_outlier_that_the_quantile_would_take():
    normal = np.random.default_rng(1).logistic(size=7_000)
    normal[0] = -40.0  # one odd pair on a quiet night
    assert threshold_for_fpr(normal, 1e-4) == -40.0
    assert -14.0 < tail_threshold(normal, 1e-4, 1e-2) < -7.0


def test_tail_threshold_without_a_tail_to_fit_falls_back_to_the_smallest_score():
    normal = np.arange(100.0)  # 1% of 100 is one score under the tail: nothing to fit
    assert tail_threshold(normal, 1e-4, 1e-2) == 0.0


@pytest.mark.parametrize("fpr, tail", [(0.0, 0.01), (0.01, 0.01), (0.001, 1.0)])
def test_tail_threshold_refuses_rates_out_of_order(fpr, tail):
    with pytest.raises(ThresholdError):
        tail_threshold(np.arange(100.0), fpr, tail)
