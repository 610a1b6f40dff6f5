"""The quality gate: reasons to refuse publishing a threshold (an empty list means publish)."""

from __future__ import annotations

from lakewatch.threshold.choose import Evaluation
from lakewatch.threshold.published import PublishedThreshold


def gate(
    evaluation: Evaluation,
    previous: PublishedThreshold | None,
    model_id: str,
    *,
    min_auc: float,
    max_shift_iqr: float,
    override: bool = False,
    min_abnormal: int = 100,
    score: str = "dot_product",
) -> list[str]:
    reasons = []
    if evaluation.auc < min_auc:
        reasons.append(
            f"AUC {evaluation.auc:.3f} is below the floor {min_auc:.3f}: the model "
            "does not separate normal from abnormal pairs well enough"
        )
    for kind, size in evaluation.sizes.items():
        if kind != "normal" and size < min_abnormal:
            reasons.append(f"only {size} abnormal pairs of kind {kind} (need {min_abnormal})")
    # a new model's or a new score's scale: nothing to compare the threshold with
    same_scale = previous is not None and (previous.score, previous.model_id) == (score, model_id)
    if previous is not None and same_scale and not override:
        q = evaluation.normal_quantiles
        iqr = max(q["p75"] - q["p25"], 1e-9)
        shift = abs(evaluation.chosen.threshold - previous.threshold) / iqr
        if shift > max_shift_iqr:
            reasons.append(
                f"threshold moved from {previous.threshold:.4f} to "
                f"{evaluation.chosen.threshold:.4f}, {shift:.2f} interquartile ranges of the "
                f"normal scores (limit {max_shift_iqr}); rerun with override=true if the "
                "traffic really changed"
            )
    return reasons
