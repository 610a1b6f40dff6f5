"""Find a model's detector in the results bucket, as the scorer and the recalibration do.

The detector is ``models/artifacts/<model_id>/detector.safetensors``, beside the model. Both
algorithms have one: lakewatch's trainer writes it; for SageMaker's built-in model the training
DAG builds it from the same extracts (``training.detector``).
"""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

from lakewatch.model.detector import DETECTOR_FILE, Detector
from lakewatch.names import artifact_key


class DetectorCache:
    """The detector of the model last asked for, read from S3 once while that model stays the
    one asked for (a Lambda holds one model's history, not every model's); None: it has none.

    A miss is asked again after ``retry_missing_s``: SageMaker's built-in model gets its
    detector after it is deployed, and a warm function must not keep scoring without it."""

    def __init__(self, s3: Any, bucket: str, models_prefix: str, retry_missing_s: float = 60.0):
        self.s3, self.bucket, self.prefix = s3, bucket, models_prefix
        self.retry_missing_s = retry_missing_s
        self._loaded: dict[str, Detector | None] = {}
        self._missed: dict[str, float] = {}

    def get(self, model_id: str) -> Detector | None:
        missed = self._missed.get(model_id)
        if missed is not None and time.monotonic() - missed > self.retry_missing_s:
            self._loaded.pop(model_id, None)
        if model_id not in self._loaded:
            key = artifact_key(self.prefix, model_id, DETECTOR_FILE)
            try:
                body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            except ClientError as err:
                if err.response.get("Error", {}).get("Code") not in ("NoSuchKey", "404"):
                    raise
                self._loaded[model_id] = None
                self._missed[model_id] = time.monotonic()
            else:
                self._loaded = {model_id: Detector.from_bytes(body, f"s3://{self.bucket}/{key}")}
                self._missed = {}
        return self._loaded[model_id]
