"""SageMaker RCF's hyperparameters: the same names, ranges and defaults, so one set of
``--hp`` values trains the same model on either backend (and SageMaker refuses what we refuse)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

EVAL_METRICS = ("accuracy", "precision_recall_fscore")
# SageMaker RCF's documented ranges (inclusive)
RANGES = {"feature_dim": (1, 10000), "num_trees": (50, 1000), "num_samples_per_tree": (1, 2048)}


class RcfHyperparameterError(ValueError):
    """A hyperparameter SageMaker RCF would refuse, and why."""


@dataclass(frozen=True)
class RcfHyperparameters:
    feature_dim: int
    num_trees: int = 100
    num_samples_per_tree: int = 256
    eval_metrics: tuple[str, ...] = field(default=EVAL_METRICS)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["eval_metrics"] = list(self.eval_metrics)
        return out


def _integer(name: str, raw: Any) -> int:
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise RcfHyperparameterError(f"{name} must be an integer, got {raw!r}") from None
    low, high = RANGES[name]
    if not low <= value <= high:
        raise RcfHyperparameterError(f"{name}={value} is outside SageMaker's range [{low}, {high}]")
    return value


def _metrics(raw: Any) -> tuple[str, ...]:
    """A JSON list (``'["accuracy"]'``, as SageMaker passes it) or a comma-separated one."""
    if isinstance(raw, list | tuple):
        items = [str(v) for v in raw]
    else:
        text = str(raw).strip()
        try:
            parsed = json.loads(text)
            items = [str(v) for v in parsed] if isinstance(parsed, list) else [str(parsed)]
        except ValueError:
            items = [v.strip().strip("'\"") for v in text.strip("[]").split(",") if v.strip()]
    unknown = sorted(set(items) - set(EVAL_METRICS))
    if unknown or not items:
        raise RcfHyperparameterError(
            f"eval_metrics takes a list of {', '.join(EVAL_METRICS)}; got {raw!r}"
        )
    return tuple(dict.fromkeys(items))


def resolve_rcf(given: dict[str, Any], columns: int | None = None) -> RcfHyperparameters:
    """Validate ``given`` and fill SageMaker's defaults; ``columns`` (the training data's
    width) must equal ``feature_dim``, and stands in for it when it is not given."""
    unknown = sorted(
        set(given) - {"feature_dim", "num_trees", "num_samples_per_tree", "eval_metrics"}
    )
    if unknown:
        raise RcfHyperparameterError(
            f"unknown RCF hyperparameter(s) {', '.join(unknown)}; known: eval_metrics, "
            "feature_dim, num_samples_per_tree, num_trees"
        )
    if "feature_dim" not in given and columns is None:
        raise RcfHyperparameterError("feature_dim is required")
    dim = _integer("feature_dim", given.get("feature_dim", columns))
    if columns is not None and dim != columns:
        raise RcfHyperparameterError(
            f"feature_dim={dim} but the training data has {columns} columns per row"
        )
    return RcfHyperparameters(
        feature_dim=dim,
        num_trees=_integer("num_trees", given.get("num_trees", 100)),
        num_samples_per_tree=_integer(
            "num_samples_per_tree", given.get("num_samples_per_tree", 256)
        ),
        eval_metrics=_metrics(given["eval_metrics"]) if "eval_metrics" in given else EVAL_METRICS,
    )
