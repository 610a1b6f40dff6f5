"""The quality gate: reasons to refuse publishing a threshold (an empty list means publish)."""

from __future__ import annotations

from typing import Any

from lakewatch.threshold.choose import Evaluation


def gate(
    evaluation: Evaluation,
    previous: dict[str, Any] | None,
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
    same_scale = previous and previous.get("score", "dot_product") == score
    if previous and same_scale and previous.get("model_id") == model_id and not override:
        q = evaluation.normal_quantiles
        iqr = max(q["p75"] - q["p25"], 1e-9)
        shift = abs(evaluation.chosen.threshold - float(previous["threshold"])) / iqr
        if shift > max_shift_iqr:
            reasons.append(
                f"threshold moved from {float(previous['threshold']):.4f} to "
                f"{evaluation.chosen.threshold:.4f}, {shift:.2f} interquartile ranges of the "
                f"normal scores (limit {max_shift_iqr}); rerun with override=true if the "
                "traffic really changed"
            )
    return reasons
