"""The RCF threshold: an instance-hour is flagged when its score is strictly *above* it.

Two rules, both measured nightly on held-out normal hours (hours of the days after the
training window, split in two by day: the rule is set on one half and its false-positive rate
read on the other, so the rate is an out-of-sample estimate, not the rule's own tail):

- ``quantile``: the normal scores' ``1 - target`` quantile (``choose.threshold_for_fpr`` on
  the negated scores: ties never push the rate over the target), extrapolated from an
  exponential tail when fewer than ``choose.MIN_TAIL`` hours lie above it
  (``choose.tail_threshold``, mirrored);
- ``mean_3sd``: the mean plus three standard deviations of the normal scores, SageMaker's
  documented suggestion. It assumes a roughly Gaussian score; RCF's scores are skewed right
  (a long tail of rare but normal hours), so its false-positive rate is whatever the tail
  makes it, not a chosen one.

The quantile is published (``CHOSEN``): it is the rule whose rate is the target by
construction, on any score distribution, and the one the IP Insights threshold uses, so both
models' findings come at the same rate. ``mean_3sd`` is kept in the record beside it, with
its held-out rate, so the choice can be checked every night. The published threshold is
then the quantile of every held-out hour (both halves: twice the hours to read it from).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from lakewatch.metrics import roc_auc
from lakewatch.threshold.choose import ThresholdError, fpr_interval, tail_threshold
from lakewatch.threshold.publish import ThresholdRecord
from lakewatch.threshold.published import PublishedThreshold

RULES = ("quantile", "mean_3sd")
CHOSEN = "quantile"
SCORE = "rcf"
DAY_MS = 86_400_000


def _clean(scores: Any, name: str) -> np.ndarray:
    arr = np.asarray(scores, dtype=np.float64)
    if arr.size == 0:
        raise ThresholdError(f"no {name} scores")
    if not np.isfinite(arr).all():
        raise ThresholdError(f"{int((~np.isfinite(arr)).sum())} {name} scores are not finite")
    return arr


def quantile_threshold(normal: Any, target_fpr: float) -> float:
    """The threshold above which at most ``target_fpr`` of the normal scores lie."""
    arr = _clean(normal, "normal")
    if not 0.0 < target_fpr < 0.5:
        raise ThresholdError(f"target false-positive rate must be in (0, 0.5), not {target_fpr}")
    return -tail_threshold(-arr, target_fpr, min(0.5, 10 * target_fpr))


def mean_3sd_threshold(normal: Any) -> float:
    arr = _clean(normal, "normal")
    return float(arr.mean() + 3 * arr.std())


def rule_threshold(rule: str, normal: Any, target_fpr: float) -> float:
    if rule == "quantile":
        return quantile_threshold(normal, target_fpr)
    if rule == "mean_3sd":
        return mean_3sd_threshold(normal)
    raise ThresholdError(f"unknown rule {rule!r}; choose from {', '.join(RULES)}")


def flagged_above(scores: np.ndarray, threshold: float) -> float:
    return float((scores > threshold).mean()) if scores.size else 0.0


def split_by_day(scores: Any, hour_starts: Any) -> tuple[np.ndarray, np.ndarray]:
    """Held-out hours in two halves by day (even and odd days since the epoch): a day's
    hours are alike (its traffic, its rhythm), so splitting inside a day would let the
    measuring half see the setting half's day."""
    s = _clean(scores, "normal")
    days = np.asarray(hour_starts, dtype=np.int64) // DAY_MS
    if days.size != s.size:
        raise ThresholdError(f"{days.size} hours for {s.size} scores")
    even = days % 2 == 0
    if even.all() or not even.any():  # a single day: split its hours alternately
        even = np.arange(s.size) % 2 == 0
    return s[even], s[~even]


@dataclass
class RuleResult:
    """A rule's threshold set on the first half and its false-positive rate on the second,
    with that rate's 95% interval; ``recall`` on abnormal hours where there are any."""

    threshold: float
    heldout_fpr: float
    fpr_low: float
    fpr_high: float
    recall: float | None = None


@dataclass
class RcfEvaluation:
    target_fpr: float
    threshold: float  # the chosen rule's, set on every held-out hour
    rule: str
    rules: dict[str, RuleResult]
    sizes: dict[str, int]
    normal_quantiles: dict[str, float]
    auc: float | None = None
    notes: list[str] = field(default_factory=list)
    # the 1 - target/10 quantile of every held-out hour: an RCF finding above it opens an
    # incident alone (``scoring.rcf_incidents``), as a pair beyond IP Insights' strict one does
    strict: float | None = None

    @property
    def scale(self) -> float:
        """Severity's unit: the normal scores' interquartile range."""
        q = self.normal_quantiles
        return max(q["p75"] - q["p25"], 1e-6)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        chosen = self.rules[self.rule]
        # the keys ThresholdRecord.compact and publish.write_index read
        out["chosen"] = {"fpr": chosen.heldout_fpr, "recall": chosen.recall}
        return out


def evaluate_rcf(
    setting: Any,
    measuring: Any,
    target_fpr: float,
    abnormal: Any = None,
    rule: str = CHOSEN,
) -> RcfEvaluation:
    """Both rules set on ``setting``'s normal scores and measured on ``measuring``'s; the
    chosen ``rule``'s threshold set on both. ``abnormal``: scores of known anomalous hours
    (the synthetic lake's injections), for recall and AUC; None where there are none."""
    a, b = _clean(setting, "setting"), _clean(measuring, "measuring")
    bad = None if abnormal is None or not len(abnormal) else _clean(abnormal, "abnormal")
    results = {}
    for name in RULES:
        t = rule_threshold(name, a, target_fpr)
        k = int((b > t).sum())
        low, high = fpr_interval(k, int(b.size))
        recall = None if bad is None else flagged_above(bad, t)
        results[name] = RuleResult(t, k / b.size, low, high, recall)
    every = np.concatenate([a, b])
    chosen = rule_threshold(rule, every, target_fpr)
    notes = [
        f"{name}: threshold {r.threshold:.4f} set on {a.size} hours, false-positive rate "
        f"{r.heldout_fpr:.3%} on {b.size} held-out hours (95% {r.fpr_low:.3%}-{r.fpr_high:.3%})"
        + ("" if r.recall is None else f", recall {r.recall:.1%}")
        for name, r in results.items()
    ]
    return RcfEvaluation(
        target_fpr=target_fpr,
        threshold=chosen,
        rule=rule,
        rules=results,
        sizes={
            "setting": int(a.size),
            "measuring": int(b.size),
            "abnormal": 0 if bad is None else int(bad.size),
        },
        normal_quantiles={
            f"p{q:g}": float(np.quantile(every, q / 100)) for q in (25, 50, 75, 99, 99.9)
        },
        auc=None if bad is None else roc_auc(bad, every),
        notes=notes,
        strict=max(quantile_threshold(every, target_fpr / 10), chosen),
    )


def rcf_gate(
    ev: RcfEvaluation,
    previous: PublishedThreshold | None,
    model_id: str,
    *,
    min_hours: int = 200,
    max_shift_iqr: float = 3.0,
    min_auc: float = 0.8,
    override: bool = False,
) -> list[str]:
    """Reasons to refuse publishing (empty: publish): too few held-out hours to read the
    target's tail; the chosen rule clearly over its target on the held-out half (the whole
    95% interval above it); an AUC under the floor where abnormal hours were scored; or, for
    the same model, a threshold moved by more than ``max_shift_iqr`` interquartile ranges of
    the normal scores (``override`` accepts it)."""
    reasons = []
    hours = ev.sizes["setting"] + ev.sizes["measuring"]
    if hours < min_hours:
        reasons.append(f"only {hours} held-out normal hours (need {min_hours})")
    chosen = ev.rules[ev.rule]
    if chosen.fpr_low > ev.target_fpr:
        reasons.append(
            f"the {ev.rule} threshold flags {chosen.heldout_fpr:.3%} of the held-out normal "
            f"hours (95% from {chosen.fpr_low:.3%}), over the target {ev.target_fpr:.3%}"
        )
    if ev.auc is not None and ev.auc < min_auc:
        reasons.append(f"AUC {ev.auc:.3f} on the abnormal hours is below the floor {min_auc:.3f}")
    if (
        previous is not None
        and not override
        and (previous.score, previous.model_id) == (SCORE, model_id)
    ):
        shift = abs(ev.threshold - previous.threshold) / ev.scale
        if shift > max_shift_iqr:
            reasons.append(
                f"threshold moved from {previous.threshold:.4f} to {ev.threshold:.4f}, "
                f"{shift:.2f} interquartile ranges of the normal scores (limit "
                f"{max_shift_iqr}); rerun with override=true if the traffic really changed"
            )
    return reasons


def rcf_record(
    ev: RcfEvaluation,
    *,
    day: str,
    model_id: str,
    endpoint: str,
    refused: list[str],
    run_id: str = "",
) -> ThresholdRecord:
    """The night's record, in IP Insights' shape (``publish.write_evidence``, ``publish``,
    ``write_index`` take it as they are), its score ``rcf``."""
    return ThresholdRecord(
        day=day,
        model_id=model_id,
        endpoint=endpoint,
        target_fpr=ev.target_fpr,
        threshold=ev.threshold,
        evaluation=ev.to_json(),
        sets=dict(ev.sizes),
        notes=list(ev.notes),
        refused=refused,
        run_id=run_id,
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        score=SCORE,
        scale=ev.scale,
        rule=ev.rule,
        strict_threshold=ev.strict,
    )
