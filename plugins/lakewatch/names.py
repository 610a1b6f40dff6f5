"""Every AWS resource name and S3 key lakewatch creates, derived deterministically.

A rerun of the same run computes the same names, so it finds (and reuses) what the first try
created instead of creating duplicates. SageMaker names: 63 characters, [a-zA-Z0-9-]. The
results bucket's layout lives here too, one function per kind of object, so a reader and its
writer can never disagree on a key (Security Lake's own layout is ``lake.layout``'s).
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date, datetime
from typing import Any

_SAFE = re.compile(r"[^a-zA-Z0-9-]+")


def digest(value: Any, length: int = 8) -> str:
    """A short stable hash of any JSON-able value."""
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def model_id(window_end: date, training_inputs: Any) -> str:
    """``ipi-20261127-<hash of data, hyperparameters, algorithm>``."""
    return f"ipi-{window_end:%Y%m%d}-{digest(training_inputs)}"


def rcf_model_id(window_end: date, training_inputs: Any) -> str:
    """``rcf-20261127-<hash of the window, its rows, hyperparameters>``: the RCF model's."""
    return f"rcf-{window_end:%Y%m%d}-{digest(training_inputs)}"


RCF_ENDPOINT = "lakewatch-rcf"  # the RCF model's endpoint where settings name none


def is_rcf_model(model_id: str) -> bool:
    """Whether a model id is an RCF model's (``rcf_model_id``), not IP Insights'."""
    return model_id.startswith("rcf-")


def serving_endpoint(model_id: str, endpoint_name: str, rcf_endpoint_name: str) -> str:
    """The endpoint that serves ``model_id``: IP Insights' (``endpoint_name``) or the RCF
    model's (``rcf_endpoint_name``, else ``RCF_ENDPOINT``)."""
    return (rcf_endpoint_name or RCF_ENDPOINT) if is_rcf_model(model_id) else endpoint_name


def rcf_training_key(models_prefix: str, model_id: str, name: str = "train.csv") -> str:
    """An RCF training run's inputs: the window's standardized ``train.csv`` (alone under
    its folder: SageMaker's channel is the folder) and, beside the folder, ``features.json``."""
    folder = "rcf/" if name == "train.csv" else ""
    return f"{training_prefix(models_prefix, model_id)}{folder}{name}"


def sagemaker_name(*parts: str) -> str:
    name = _SAFE.sub("-", "-".join(p for p in parts if p)).strip("-")
    if len(name) <= 63:
        return name
    return f"{name[:54].rstrip('-')}-{digest(name)}"


def training_job_name(model: str, attempt: int = 1) -> str:
    return sagemaker_name(model, f"r{attempt}") if attempt > 1 else sagemaker_name(model)


def endpoint_config_name(endpoint: str, model: str) -> str:
    return sagemaker_name(endpoint, model.removeprefix("ipi-"))


def lambda_function_name(endpoint: str) -> str:
    return sagemaker_name(endpoint, "scorer")


def lambda_layer_name(endpoint: str) -> str:
    """The scorer's dependency layer (one name, a version per distinct layer.zip)."""
    return sagemaker_name(endpoint, "scorer-deps")


def scorer_package_key(sha256: str) -> str:
    """Where a built scorer package is staged for its deploy (content-addressed)."""
    return f"scorer/packages/{sha256[:16]}.zip"


def artifact_key(models_prefix: str, model_id: str, name: str = "model.tar.gz") -> str:
    """A model's files in the results bucket: ``model.tar.gz`` and, beside it, the detector
    (``detector.safetensors``) that the scorer and the recalibration read."""
    return f"{models_prefix}artifacts/{model_id}/{name}"


# the results bucket's layout ----------------------------------------------------------------
# extracts: <extracts>/source_version=V/pairs=P/day=D/{manifest.json, attempt=A/...}


def extract_pairs_prefix(extracts_prefix: str, source_version: str, pairs: str) -> str:
    return f"{extracts_prefix}source_version={source_version}/pairs={pairs}/"


def extract_day_prefix(extracts_prefix: str, source_version: str, pairs: str, day: date) -> str:
    return f"{extract_pairs_prefix(extracts_prefix, source_version, pairs)}day={day:%Y-%m-%d}/"


def extract_manifest_key(day_prefix: str) -> str:
    """The day's manifest: written last, the atomic publish of its parts."""
    return f"{day_prefix}manifest.json"


def extract_attempt_prefix(day_prefix: str, attempt: str) -> str:
    """One try's parts: never read until a manifest names them."""
    return f"{day_prefix}attempt={attempt}/"


# models: <models>/{registry/ID.json, endpoints/NAME.json, artifacts/ID/, training/ID/, code/H/}


def model_registry_prefix(models_prefix: str) -> str:
    return f"{models_prefix}registry/"


def model_record_key(models_prefix: str, model_id: str) -> str:
    return f"{model_registry_prefix(models_prefix)}{model_id}.json"


def endpoint_state_key(models_prefix: str, endpoint: str) -> str:
    return f"{models_prefix}endpoints/{endpoint}.json"


def training_prefix(models_prefix: str, model_id: str) -> str:
    """A training run's inputs: SageMaker manifests, analysts' false positives."""
    return f"{models_prefix}training/{model_id}/"


def sagemaker_output_prefix(models_prefix: str) -> str:
    """Where SageMaker training jobs write their ``model.tar.gz`` (one folder per job)."""
    return f"{models_prefix}sagemaker/"


def source_tarball_key(models_prefix: str, digest: str) -> str:
    """lakewatch's trainer for SageMaker's script mode (content-addressed)."""
    return f"{models_prefix}code/{digest}/sourcedir.tar.gz"


# thresholds: <thresholds>/{history/day=D/{record.json,threshold.png}, history.json, work/day=D/}


def threshold_history_prefix(thresholds_prefix: str) -> str:
    return f"{thresholds_prefix}history/"


def threshold_night_prefix(thresholds_prefix: str, day: str) -> str:
    """One night's evidence: ``record.json`` and ``threshold.png``."""
    return f"{threshold_history_prefix(thresholds_prefix)}day={day}/"


def threshold_index_key(thresholds_prefix: str) -> str:
    return f"{thresholds_prefix}history.json"


def threshold_work_prefix(thresholds_prefix: str, day: str) -> str:
    """A recalibration's intermediate sets and scores (rewritten by a rerun)."""
    return f"{thresholds_prefix}work/day={day}/"


# the RCF model's thresholds: the same layout under <thresholds>/rcf/, its own SSM parameter


def rcf_thresholds_prefix(thresholds_prefix: str) -> str:
    """The RCF threshold's evidence and work, laid out as IP Insights' under ``thresholds``:
    the two models' nights never share a record or an index."""
    return f"{thresholds_prefix}rcf/"


def rcf_threshold_parameter(threshold_parameter: str) -> str:
    """The SSM parameter of the published RCF threshold, beside IP Insights' own."""
    return f"{threshold_parameter.rstrip('/')}-rcf"


# findings: <findings>/region=R/accountId=A/eventDay=D/H.parquet, <findings>/alerts/UID


def findings_object_key(
    findings_prefix: str,
    region: str,
    account_id: str,
    event_day: str,
    source_key: str,
    model_id: str,
) -> str:
    """One file per source object and model: reprocessing rewrites it, never adds a copy."""
    digest = hashlib.sha256(f"{source_key}|{model_id}".encode()).hexdigest()[:32]
    where = f"region={region}/accountId={account_id}/eventDay={event_day}/"
    return f"{findings_prefix}{where}{digest}.parquet"


def rcf_hour_findings_key(
    findings_prefix: str, region: str, account_id: str, hour_start: datetime
) -> str:
    """The hourly RCF step's file of one account's closed UTC hour (``scoring.rcf_hourly``),
    in the findings' layout: one per account and hour, whichever model scored it, so
    rescoring the hour rewrites it."""
    where = f"region={region}/accountId={account_id}/eventDay={hour_start:%Y%m%d}/"
    return f"{findings_prefix}{where}rcf-hour-{hour_start:%Y%m%dT%H}.parquet"


def canary_findings_prefix(canary_prefix: str) -> str:
    return f"{canary_prefix}findings/"


def alert_marker_key(findings_prefix: str, finding_uid: str) -> str:
    """Marks a finding alerted (a conditional put: one alert per finding and window)."""
    return f"{findings_prefix}alerts/{finding_uid}"


# analysts: <feedback>/{labels,suppressions}/day=D/TIME-UNIQUE.json (append-only)


def feedback_prefix_of(feedback_prefix: str, what: str) -> str:
    return f"{feedback_prefix}{what}/"


def feedback_key(feedback_prefix: str, what: str, when: datetime, unique: str) -> str:
    """A label or suppression: never rewritten, so concurrent analysts never collide."""
    day = f"day={when:%Y-%m-%d}/"
    return f"{feedback_prefix_of(feedback_prefix, what)}{day}{when:%H%M%S%f}-{unique}.json"


# the synthetic lake's ground truth, beside (never inside) the lake's own prefixes


def ground_truth_key(ground_truth_prefix: str, version: str, day: str) -> str:
    return f"{ground_truth_prefix}source_version={version}/eventDay={day}/labels.jsonl"


def ground_truth_world_key(ground_truth_prefix: str) -> str:
    return f"{ground_truth_prefix}world.json"
