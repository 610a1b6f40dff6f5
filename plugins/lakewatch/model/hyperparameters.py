"""SageMaker IP Insights hyperparameters: the same names, defaults and valid ranges.

SageMaker requires ``num_entity_vectors`` and ``vector_dim``; lakewatch derives the first from
the data (twice the distinct entities, AWS's own recommendation) and defaults the second to 128
(AWS's recommended value; see docs/detector.md). ``ip_hash_buckets`` and ``seed`` are
lakewatch extensions; SageMaker's built-in image ignores neither, it rejects them, so they are
never sent to it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

_INT_MAX = 2**31 - 1


@dataclass(frozen=True)
class Spec:
    kind: type
    low: float
    high: float
    default: Any
    sagemaker: bool = True  # part of the built-in algorithm's interface


SPECS: dict[str, Spec] = {
    "num_entity_vectors": Spec(int, 1, 250_000_000, None),
    "vector_dim": Spec(int, 4, 4096, 128),
    "batch_metrics_publish_interval": Spec(int, 1, _INT_MAX, 1000),
    "epochs": Spec(int, 1, _INT_MAX, 10),
    "learning_rate": Spec(float, 1e-6, 10.0, 0.001),
    "mini_batch_size": Spec(int, 1, 500_000, 10_000),
    "num_ip_encoder_layers": Spec(int, 0, 100, 1),
    "random_negative_sampling_rate": Spec(int, 0, 500, 1),
    "shuffled_negative_sampling_rate": Spec(int, 0, 500, 1),
    "weight_decay": Spec(float, 0.0, 10.0, 0.00001),
    "ip_hash_buckets": Spec(int, 256, 2**26, None, sagemaker=False),
    "seed": Spec(int, 0, _INT_MAX, 0, sagemaker=False),
}


class HyperparameterError(ValueError):
    """A hyperparameter that SageMaker would reject, with the reason."""


@dataclass(frozen=True)
class Hyperparameters:
    num_entity_vectors: int
    vector_dim: int
    batch_metrics_publish_interval: int
    epochs: int
    learning_rate: float
    mini_batch_size: int
    num_ip_encoder_layers: int
    random_negative_sampling_rate: int
    shuffled_negative_sampling_rate: int
    weight_decay: float
    ip_hash_buckets: int
    seed: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def sagemaker(self) -> dict[str, str]:
        """The string map SageMaker's built-in algorithm takes."""
        return {f.name: str(getattr(self, f.name)) for f in fields(self) if SPECS[f.name].sagemaker}


def _coerce(name: str, value: Any) -> int | float:
    spec = SPECS[name]
    try:
        if spec.kind is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            number: int | float = int(str(value).strip()) if isinstance(value, str) else int(value)
        else:
            number = float(value)
    except (TypeError, ValueError):
        kind = "an integer" if spec.kind is int else "a number"
        raise HyperparameterError(f"{name} must be {kind}, got {value!r}") from None
    if not spec.low <= number <= spec.high:
        low, high = (
            (f"{spec.low:,}", f"{spec.high:,}")
            if spec.kind is int
            else (f"{spec.low:g}", f"{spec.high:g}")
        )
        raise HyperparameterError(
            f"{name}={value} is out of range: valid values are {low} <= {name} <= {high}"
        )
    return number


def parse_assignments(items: list[str]) -> dict[str, str]:
    """``["epochs=5", ...]`` (the CLI's ``--hp``) as a dict, with a clear error for bad items."""
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise HyperparameterError(f"--hp takes NAME=VALUE, got {item!r}")
        out[name.strip()] = value.strip()
    return out


def resolve(
    given: dict[str, Any], *, distinct_entities: int, distinct_addresses: int = 0, pairs: int = 0
) -> Hyperparameters:
    """Validate ``given`` against SageMaker's ranges and fill defaults (some from the data).

    With ``pairs`` known, ``mini_batch_size`` and ``epochs`` default to a schedule that
    converges at any size (``schedule``); otherwise to SageMaker's own defaults.
    """
    unknown = sorted(set(given) - set(SPECS))
    if unknown:
        raise HyperparameterError(
            f"unknown hyperparameter(s) {', '.join(unknown)}; known: {', '.join(sorted(SPECS))}"
        )
    values: dict[str, Any] = {
        name: _coerce(name, v) for name, v in given.items() if v is not None and v != ""
    }
    if pairs:
        batch, epochs = schedule(pairs, values.get("mini_batch_size"))
        values.setdefault("mini_batch_size", batch)
        values.setdefault("epochs", epochs)
    for name, spec in SPECS.items():
        if name not in values and spec.default is not None:
            values[name] = spec.default
    values.setdefault("num_entity_vectors", max(2, 2 * distinct_entities))
    values.setdefault("ip_hash_buckets", default_ip_buckets(distinct_addresses))
    return Hyperparameters(**values)


MIN_STEPS = 2000
MIN_BATCH = 500


def schedule(pairs: int, mini_batch_size: int | None = None) -> tuple[int, int]:
    """(mini_batch_size, epochs) that give training enough optimizer steps at any data size.

    SageMaker's defaults (10,000 pairs a batch, 10 epochs) give an 80,000-pair window 80 steps:
    an undertrained model (loss still falling fast). Here a batch is about 1/200 of the data
    (at least 500, at most SageMaker's 10,000) and the epochs cover at least ``MIN_STEPS``
    steps (at least SageMaker's 10, at most 100); early stopping on the validation channel ends
    training once it stops improving. Large data gets SageMaker's defaults unchanged.
    """
    batch = mini_batch_size or int(min(10_000, max(MIN_BATCH, round(pairs / 200, -2))))
    steps_per_epoch = max(1, -(-pairs // batch))
    epochs = int(min(100, max(10, -(-MIN_STEPS // steps_per_epoch))))
    return batch, epochs


MAX_DEFAULT_IP_BUCKETS = 1 << 20


def default_ip_buckets(distinct_addresses: int) -> int:
    """Room for every prefix token of the data with few collisions (two tokens per address),
    up to ``MAX_DEFAULT_IP_BUCKETS``: the table and its two Adam moments are three tables of
    ``vector_dim`` floats a row (1.5 GB at 2^20 rows and 128; at the earlier 2^22, 6.4 GB for
    data with millions of distinct addresses). Past it, /32 tokens share rows, which costs
    little: an address seen once teaches its row nothing anyway. ``--hp ip_hash_buckets``
    sets more (up to 2^26)."""
    want = max(1 << 16, 4 * max(distinct_addresses, 1))
    return min(MAX_DEFAULT_IP_BUCKETS, 1 << (want - 1).bit_length())
