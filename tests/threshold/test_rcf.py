"""threshold.rcf: RCF's threshold flags scores above it, the quantile rule
meets its target on held-out hours where mean + 3 sd does not, the gate, the published record
(old records read as before)."""

import json

import numpy as np
import pytest

from lakewatch.threshold import rcf
from lakewatch.threshold.published import PublishedThreshold, parse_published

DAY_MS = 86_400_000


def _skewed(n, seed):
    """RCF-like normal scores: positive and skewed right (a long tail of rare normal hours)."""
    return 0.5 + np.random.default_rng(seed).lognormal(0, 0.8, n)


def test_quantile_flags_at_most_the_target_above_it():
    scores = np.arange(1000.0)
    t = rcf.quantile_threshold(scores, 0.01)
    assert (scores > t).sum() == 10
    ties = np.r_[np.zeros(990), np.ones(10) * 5]
    assert (ties > rcf.quantile_threshold(ties, 0.005)).sum() <= 5


def test_quantile_meets_the_target_where_mean_3sd_does_not():
    ev = rcf.evaluate_rcf(_skewed(20_000, 1), _skewed(20_000, 2), 0.001)
    q, m = ev.rules["quantile"], ev.rules["mean_3sd"]
    assert q.fpr_low <= 0.001 and q.heldout_fpr < 0.002  # the target, up to sampling noise
    assert m.fpr_low > 0.005  # a lognormal tail: mean + 3 sd flags several times the target
    assert ev.rule == "quantile" and ev.threshold == pytest.approx(q.threshold, rel=0.1)
    assert rcf.rcf_gate(ev, None, "m1") == []
    gated = rcf.rcf_gate(
        rcf.evaluate_rcf(_skewed(20_000, 1), _skewed(20_000, 2), 0.001, rule="mean_3sd"), None, "m1"
    )
    assert any("over the target" in r for r in gated)


def test_recall_and_auc_on_abnormal_hours():
    ev = rcf.evaluate_rcf(_skewed(5000, 1), _skewed(5000, 2), 0.01, abnormal=np.full(50, 100.0))
    assert ev.rules["quantile"].recall == 1.0 and ev.auc == 1.0
    assert rcf.evaluate_rcf(_skewed(500, 1), _skewed(500, 2), 0.01).auc is None


def test_split_by_day_keeps_each_day_on_one_side():
    hours = np.arange(96) * 3_600_000 + 20_000 * DAY_MS  # four days
    scores = np.arange(96.0)
    a, b = rcf.split_by_day(scores, hours)
    assert set(a // 24) == {0, 2} and set(b // 24) == {1, 3}
    a, b = rcf.split_by_day(scores[:24], hours[:24])  # one day: its hours alternately
    assert len(a) == len(b) == 12


def test_gate_refuses_few_hours_and_a_same_model_jump():
    ev = rcf.evaluate_rcf(_skewed(60, 1), _skewed(60, 2), 0.01)
    assert any("held-out normal hours" in r for r in rcf.rcf_gate(ev, None, "m1"))
    ev = rcf.evaluate_rcf(_skewed(5000, 1), _skewed(5000, 2), 0.01)
    far = PublishedThreshold(threshold=ev.threshold + 10 * ev.scale, model_id="m1", score="rcf")
    assert any("moved from" in r for r in rcf.rcf_gate(ev, far, "m1"))
    assert rcf.rcf_gate(ev, far, "m2") == []  # a new model: nothing to compare with
    assert rcf.rcf_gate(ev, far, "m1", override=True) == []
    ip = PublishedThreshold(threshold=ev.threshold + 10 * ev.scale, model_id="m1")
    assert rcf.rcf_gate(ev, ip, "m1") == []  # IP Insights' scale is another


def test_a_record_without_the_new_keys_reads_as_before():
    old = parse_published("/t", json.dumps({"threshold": -1.5, "model_id": "ipi-1"}), 3)
    assert old.score == "dot_product" and old.rule == "quantile" and not old.flags_above
    assert old.flags(-2.0) and not old.flags(-1.0)
    ev = rcf.evaluate_rcf(_skewed(5000, 1), _skewed(5000, 2), 0.01)
    record = rcf.rcf_record(ev, day="2026-11-05", model_id="rcf-1", endpoint="ep", refused=[])
    compact = record.compact()
    assert "rule" not in compact  # the default is not written: IP Insights' SSM value unchanged
    read = parse_published("/t", json.dumps(compact), 4)
    assert read.flags_above and read.flags(ev.threshold + 1) and not read.flags(ev.threshold)
    assert read.scale == pytest.approx(ev.scale) and read.auc is None


def test_the_strict_threshold_is_the_tenth_targets_quantile_and_is_published():
    every = np.r_[_skewed(20_000, 1), _skewed(20_000, 2)]
    ev = rcf.evaluate_rcf(_skewed(20_000, 1), _skewed(20_000, 2), 0.001)
    assert ev.strict > ev.threshold
    # about a tenth of the target on the same hours (the tail fit extrapolates past 4 hours)
    assert (every > ev.strict).mean() < 0.0003
    assert (every > ev.threshold).mean() > 0.0005
    record = rcf.rcf_record(ev, day="2026-11-01", model_id="rcf-1", endpoint="e", refused=[])
    published = parse_published("/t", json.dumps(record.compact()), 1)
    assert published.strict_threshold == ev.strict and published.flags_above
