"""The published threshold as the scorer reads it: SSM's compact record (``ThresholdRecord.
compact``) and the parameter's version, validated once where it is read.

Its own module, free of the rest of ``threshold``, because the scorer's function carries it
(``serving.lambda_package.HANDLER_MODULES``). Every default lives here: a record published
before a key existed (``score``, ``scale``, ``view_offsets``) reads as it was scored then.
"""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict


class NotAThresholdRecord(ValueError):
    """A parameter whose value is not a threshold record (hand-edited, or not lakewatch's)."""


class PublishedThreshold(BaseModel):
    """SSM's compact record plus its version. Keys it does not name are ignored, so a record
    written by a later release still reads."""

    # frozen: the scorer shares one instance between invocations; model ids that are numbers
    # read as before (the scorer formatted them with str)
    model_config = ConfigDict(frozen=True, coerce_numbers_to_str=True)

    threshold: float
    model_id: str
    version: int = 0  # the SSM parameter's; 0 for a record not read from SSM
    day: str = ""
    target_fpr: float | None = None  # None: the scorer asks no Poisson test of an hour's flags
    fpr: float | None = None
    recall: float | None = None
    auc: float | None = None
    endpoint: str = ""
    record: str = ""  # the full record on S3 (its entity rates); "" for none
    # what the threshold applies to: dot_product | detector (flagged below) | rcf (flagged
    # above: an RCF score is higher for a more anomalous instance-hour)
    score: str = "dot_product"
    strict_threshold: float | None = None
    scale: float = 1.0  # severity's unit: the normal scores' interquartile range
    loose_threshold: float | None = None
    view_offsets: dict[str, float] = {}  # empty: one pooled threshold for every view
    rule: str = "quantile"  # how the threshold was set: quantile | mean_3sd (RCF's choice)

    @property
    def of_detector(self) -> bool:
        """Whether the threshold applies to the detector's score (else the dot product)."""
        return self.score == "detector"

    @property
    def flags_above(self) -> bool:
        """Whether a score above the threshold is flagged (RCF's), not one below it."""
        return self.score == "rcf"

    def flags(self, score: float) -> bool:
        """Whether ``score`` is on the flagged side of the threshold."""
        return score > self.threshold if self.flags_above else score < self.threshold


def parse_published(name: str, value: str, version: int) -> PublishedThreshold:
    """An SSM parameter's value as a threshold record; ``NotAThresholdRecord`` (naming the
    parameter and version) for anything else, so each reader can say what to do about it."""
    try:
        doc = json.loads(value)
        return PublishedThreshold.model_validate({**doc, "version": version})
    except (ValueError, TypeError) as err:  # pydantic's ValidationError is a ValueError
        raise NotAThresholdRecord(
            f"{name} version {version} is not a threshold record "
            f"(JSON with threshold and model_id): {err}"
        ) from None
