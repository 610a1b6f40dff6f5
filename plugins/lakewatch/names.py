"""Every AWS resource name lakewatch creates, derived deterministically from the run.

A rerun of the same run computes the same names, so it finds (and reuses) what the first try
created instead of creating duplicates. SageMaker names: 63 characters, [a-zA-Z0-9-].
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date
from typing import Any

_SAFE = re.compile(r"[^a-zA-Z0-9-]+")


def digest(value: Any, length: int = 8) -> str:
    """A short stable hash of any JSON-able value."""
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def model_id(window_end: date, training_inputs: Any) -> str:
    """``ipi-20261127-<hash of data, hyperparameters, algorithm>``."""
    return f"ipi-{window_end:%Y%m%d}-{digest(training_inputs)}"


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
