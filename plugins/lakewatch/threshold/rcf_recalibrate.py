"""The RCF threshold's night: score held-out normal hours, choose, gate, write the evidence
(``record.json`` and ``threshold.png`` under ``names.rcf_thresholds_prefix``), publish to the
RCF parameter (``names.rcf_threshold_parameter``). The IP Insights night's steps
(``threshold.recalibrate``), on the same records and SSM helpers, for the other model."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import numpy as np

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
