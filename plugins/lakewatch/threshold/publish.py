"""Threshold records: evidence in S3 for every night, the published value in SSM.

``thresholds/history/day=YYYY-MM-DD/record.json`` and ``threshold.png`` are rewritten when a
night is rerun; ``thresholds/history.json`` indexes every night for drift charts. SSM holds a
compact record (the scorer reads it): threshold, model id, version and a link to the evidence.
A rerun that publishes the same value does not create another SSM version.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from lakewatch.lake.sink import ObjectStore
from lakewatch.names import threshold_history_prefix, threshold_index_key, threshold_night_prefix
from lakewatch.threshold.published import PublishedThreshold, parse_published


@dataclass
class ThresholdRecord:
    day: str
    model_id: str
    endpoint: str
    target_fpr: float
    threshold: float
    evaluation: dict[str, Any]
    sets: dict[str, int]
    notes: list[str] = field(default_factory=list)
    published: bool = False
    refused: list[str] = field(default_factory=list)
    version: int = 0
    record_uri: str = ""
    picture_uri: str = ""
    run_id: str = ""
    created: str = ""
    score: str = "dot_product"  # what the threshold applies to: dot_product | detector
    # an incident of one pair must score below this: the normal scores' target/10 quantile,
    # extrapolated from their tail when the set is too small to read it (choose.tail_threshold)
    strict_threshold: float | None = None
    scale: float = 1.0  # interquartile range of the normal scores: severity's unit
    # the normal scores' 10 x target quantile: a scan's other instances may score under it
    loose_threshold: float | None = None
    # entities whose normal pairs fall under the threshold well above the target rate
    # (``choose.entity_rates``): the scorer asks more of their incidents
    entity_rates: dict[str, float] = field(default_factory=dict)
    # per-view thresholds against the pooled one (``views.compare_views``), and the offsets
    # the scorer applies to each view's scores when they were adopted (empty: pooled)
    views: dict[str, Any] = field(default_factory=dict)
    view_offsets: dict[str, float] = field(default_factory=dict)
    rule: str = "quantile"  # RCF: the rule that set the threshold (quantile | mean_3sd)

    def compact(self) -> dict[str, Any]:
        """What goes to SSM (well under its 4 KB limit), read back as ``PublishedThreshold``:
        each key is one of its fields (``test_published`` checks), so none is lost."""
        chosen = self.evaluation["chosen"]
        return {
            "threshold": self.threshold,
            "model_id": self.model_id,
            "day": self.day,
            "target_fpr": self.target_fpr,
            "fpr": chosen["fpr"],
            "recall": chosen["recall"],
            "auc": self.evaluation["auc"],
            "endpoint": self.endpoint,
            "record": self.record_uri,
            "score": self.score,
            "strict_threshold": self.strict_threshold,
            "scale": self.scale,
            "loose_threshold": self.loose_threshold,
            **({"view_offsets": self.view_offsets} if self.view_offsets else {}),
            **({"rule": self.rule} if self.rule != "quantile" else {}),
        }


def write_evidence(
    store: ObjectStore, thresholds_prefix: str, record: ThresholdRecord, png: bytes
) -> ThresholdRecord:
    prefix = threshold_night_prefix(thresholds_prefix, record.day)
    record.picture_uri = store.uri(f"{prefix}threshold.png")
    record.record_uri = store.uri(f"{prefix}record.json")
    store.put(f"{prefix}threshold.png", png)
    store.put(f"{prefix}record.json", json.dumps(asdict(record), indent=2).encode())
    return record


# the value deploy/lakewatch.yaml creates the parameter with (CloudFormation needs one)
UNPUBLISHED = '{"unpublished": true}'


def read_published(ssm: Any, name: str) -> PublishedThreshold | None:
    """The published record, None before the first publish (no parameter, or the stack's
    ``UNPUBLISHED``); ``NotAThresholdRecord`` for a value that is not one (a hand edit)."""
    param = _parameter(ssm, name)
    if param is None or _same_json(param["Value"], UNPUBLISHED):
        return None
    return parse_published(name, param["Value"], param["Version"])


def publish(ssm: Any, name: str, record: ThresholdRecord) -> int:
    """Put the compact record in SSM unless it is already the value; returns the version.
    Compares the stored JSON itself, so a value that is not a record is simply replaced."""
    value = json.dumps(record.compact(), sort_keys=True)
    current = _parameter(ssm, name)
    if current is not None and _same_json(current["Value"], value):
        return current["Version"]
    return ssm.put_parameter(
        Name=name,
        Value=value,
        Type="String",
        Overwrite=True,
        Description=f"lakewatch anomaly threshold ({record.score})",
    )["Version"]


def _parameter(ssm: Any, name: str) -> dict[str, Any] | None:
    """The SSM parameter (``Value``, ``Version``), None where there is none yet."""
    try:
        return ssm.get_parameter(Name=name)["Parameter"]
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") == "ParameterNotFound":
            return None
        raise


def _same_json(stored: str, value: str) -> bool:
    """Whether the stored value is ``value`` (canonical JSON) once its keys are sorted."""
    try:
        doc = json.loads(stored)
    except ValueError:
        return False
    if isinstance(doc, dict):
        doc.pop("version", None)
    return json.dumps(doc, sort_keys=True) == value


def history(ssm: Any, name: str) -> list[dict[str, Any]]:
    """Every SSM version of the threshold, oldest first: version, when, by whom, the record.
    The stack's placeholder (``UNPUBLISHED``) is no threshold: never listed, never restored."""
    out = []
    for page in ssm.get_paginator("get_parameter_history").paginate(Name=name):
        for p in page["Parameters"]:
            if _same_json(p["Value"], UNPUBLISHED):
                continue
            try:
                value = json.loads(p["Value"])
            except ValueError:
                value = {"unparsed": p["Value"]}
            out.append(
                {
                    "version": p["Version"],
                    "modified": str(p.get("LastModifiedDate", "")),
                    "by": p.get("LastModifiedUser", ""),
                    **value,
                }
            )
    return sorted(out, key=lambda v: v["version"])


def restore(ssm: Any, name: str, version: int) -> int:
    """Publish an earlier version's value again (as a new version); returns that version."""
    versions = {v["version"]: v for v in history(ssm, name)}
    if version not in versions:
        raise ValueError(f"{name} has no version {version} (versions: {sorted(versions)})")
    value = {k: v for k, v in versions[version].items() if k not in ("version", "modified", "by")}
    if "unparsed" in value:
        raise ValueError(f"{name} version {version} is not a threshold record")
    return ssm.put_parameter(
        Name=name,
        Value=json.dumps(value, sort_keys=True),
        Type="String",
        Overwrite=True,
        Description=f"lakewatch anomaly threshold (restored from version {version})",
    )["Version"]


def write_index(store: ObjectStore, thresholds_prefix: str) -> str:
    """``history.json``: every night's headline numbers, oldest first."""
    rows = []
    for key in sorted(store.list(threshold_history_prefix(thresholds_prefix))):
        if key.endswith("/record.json"):
            doc = json.loads(store.get(key))
            rows.append(
                {
                    "day": doc["day"],
                    "model_id": doc["model_id"],
                    "threshold": doc["threshold"],
                    "published": doc["published"],
                    "version": doc["version"],
                    "auc": doc["evaluation"]["auc"],
                    "fpr": doc["evaluation"]["chosen"]["fpr"],
                    "recall": doc["evaluation"]["chosen"]["recall"],
                }
            )
    key = threshold_index_key(thresholds_prefix)
    store.put(key, json.dumps(rows, indent=2).encode())
    return store.uri(key)
