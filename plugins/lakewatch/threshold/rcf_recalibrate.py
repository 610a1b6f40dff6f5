"""The RCF threshold's night: score held-out normal hours (``heldout_scores``: the feature
rows of the days after the model's training window, standardized by its profile and scored
by the deployed endpoint, as the scorer will score them), choose, gate, write the evidence
(``record.json`` and ``threshold.png`` under ``names.rcf_thresholds_prefix``), publish to the
RCF parameter (``names.rcf_threshold_parameter``). The IP Insights night's steps
(``threshold.recalibrate``), on the same records and SSM helpers, for the other model."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date, timedelta
from typing import Any

import numpy as np

from lakewatch.aws.endpoint import invoke_rcf
from lakewatch.extract.rcf_features import FeatureProfile
from lakewatch.lake.sink import ObjectStore
from lakewatch.names import rcf_threshold_parameter, rcf_thresholds_prefix, threshold_night_prefix
from lakewatch.threshold.plot import rcf_png
from lakewatch.threshold.publish import (
    ThresholdRecord,
    publish,
    read_published,
    write_evidence,
    write_index,
)
from lakewatch.threshold.rcf import evaluate_rcf, rcf_gate, rcf_record, split_by_day
from lakewatch.threshold.recalibrate import Refused
from lakewatch.training.rcf_plan import FeatureQuery, window_rows


def heldout_days(window_end: date, night: date, days: int = 2) -> tuple[date, int]:
    """(the day after the held-out days, how many): the ``days`` days before ``night``, but
    none the model was trained on (its window ends at ``window_end``); ``ValueError`` when
    the night comes before any held-out day."""
    first = max(window_end, night - timedelta(days=days))
    if first >= night:
        raise ValueError(
            f"no held-out day: the model's window ends {window_end}, the night is {night}"
        )
    return night, (night - first).days


def heldout_scores(
    engine: FeatureQuery,
    runtime: Any,
    endpoint: str,
    profile: FeatureProfile,
    *,
    region: str,
    source_version: str,
    window_end: date,
    night: date,
    days: int = 2,
) -> tuple[np.ndarray, np.ndarray]:
    """The held-out hours' scores by the deployed endpoint and their hour starts (ms)."""
    end, n = heldout_days(window_end, night, days)
    rows = window_rows(
        engine, region=region, source_version=source_version, window_end=end, window_days=n
    )
    if rows.num_rows == 0:
        return np.zeros(0), np.zeros(0, np.int64)
    matrix = profile.apply(rows)
    scores = invoke_rcf(runtime, endpoint, matrix)
    return scores, np.asarray(rows["hour_start"].to_numpy(), np.int64)


def choose_rcf(
    store: ObjectStore,
    ssm: Any,
    *,
    thresholds_prefix: str,
    threshold_parameter: str,
    day: str,
    model_id: str,
    endpoint: str,
    scores: Any,
    hour_starts: Any,
    target_fpr: float,
    abnormal: Any = None,
    override: bool = False,
    min_hours: int = 200,
    max_shift_iqr: float = 3.0,
    run_id: str = "",
) -> ThresholdRecord:
    """Choose the night's RCF threshold from the held-out normal hours' ``scores`` (their
    ``hour_starts`` split them by day), gate it against the published one, write its record
    and picture, refused or not; raises ``Refused`` with the reasons."""
    setting, measuring = split_by_day(scores, hour_starts)
    ev = evaluate_rcf(setting, measuring, target_fpr, abnormal)
    previous = read_published(ssm, rcf_threshold_parameter(threshold_parameter))
    reasons = rcf_gate(
        ev,
        previous,
        model_id,
        min_hours=min_hours,
        max_shift_iqr=max_shift_iqr,
        override=override,
    )
    record = rcf_record(
        ev, day=day, model_id=model_id, endpoint=endpoint, refused=reasons, run_id=run_id
    )
    prefix = rcf_thresholds_prefix(thresholds_prefix)
    title = f"lakewatch RCF threshold for {day} - model {model_id}" + (
        " - REFUSED" if reasons else ""
    )
    bad = None if abnormal is None else np.asarray(abnormal, np.float64)
    write_evidence(store, prefix, record, rcf_png(setting, measuring, ev, title, bad))
    write_index(store, prefix)
    if reasons:
        raise Refused(
            "RCF threshold not published, the previous one stays: "
            + "; ".join(reasons)
            + f" (evidence: {record.record_uri})"
        )
    return record


def publish_rcf(
    store: ObjectStore, ssm: Any, *, thresholds_prefix: str, threshold_parameter: str, day: str
) -> ThresholdRecord:
    """Publish the night's accepted RCF record to its SSM parameter and mark it published."""
    prefix = rcf_thresholds_prefix(thresholds_prefix)
    key = f"{threshold_night_prefix(prefix, day)}record.json"
    record = ThresholdRecord(**json.loads(store.get(key)))
    if record.refused:
        raise Refused(f"the RCF record for {day} was refused: {'; '.join(record.refused)}")
    record.version = publish(ssm, rcf_threshold_parameter(threshold_parameter), record)
    record.published = True
    store.put(key, json.dumps(asdict(record), indent=2).encode())
    write_index(store, prefix)
    return record
