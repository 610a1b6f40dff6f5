"""Find a model's detector in the results bucket, as the scorer and the recalibration do.

The detector is ``models/artifacts/<model_id>/detector.safetensors``, beside the model. Both
algorithms have one: lakewatch's trainer writes it; for SageMaker's built-in model the training
DAG builds it from the same extracts (``training.detector``).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from lakewatch.model.detector import DETECTOR_FILE, Detector
from lakewatch.names import artifact_key


class DetectorCache:
    """The detector of the model last asked for, read from S3 once while that model stays the
    one asked for (a Lambda holds one model's history, not every model's); None: it has none."""

    def __init__(self, s3: Any, bucket: str, models_prefix: str):
        self.s3, self.bucket, self.prefix = s3, bucket, models_prefix
        self._loaded: dict[str, Detector | None] = {}

    def get(self, model_id: str) -> Detector | None:
        if model_id not in self._loaded:
            key = artifact_key(self.prefix, model_id, DETECTOR_FILE)
            try:
                body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            except ClientError as err:
                if err.response.get("Error", {}).get("Code") not in ("NoSuchKey", "404"):
                    raise
                self._loaded[model_id] = None
            else:
                self._loaded = {model_id: Detector.from_bytes(body, f"s3://{self.bucket}/{key}")}
        return self._loaded[model_id]
