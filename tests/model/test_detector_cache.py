"""model.detector_cache: the scorer and the recalibration find a model's detector beside its
artifact, read it once while that model is the one asked for, and treat a missing one as none
(SageMaker's model before its detector is built) while any other S3 error is raised."""

import numpy as np
import pytest
from botocore.exceptions import ClientError

from lakewatch.model import detector as det
from lakewatch.model.data import pairs_from_lists
from lakewatch.model.detector import DETECTOR_FILE
from lakewatch.model.detector_cache import DetectorCache
from lakewatch.names import artifact_key


class _CountingS3:
    def __init__(self, s3):
        self.s3, self.gets = s3, 0

    def get_object(self, **kwargs):
        self.gets += 1
        return self.s3.get_object(**kwargs)


def _detector():
    ents = [f"i-{k % 7}" for k in range(700)]
    ips = [f"10.{k % 7}.{k % 5}.{k % 50 + 1}" for k in range(700)]
    pairs = pairs_from_lists(ents, ips)
    hold = np.arange(700) % 10 == 0
    tr, va = pairs.take(np.flatnonzero(~hold)), pairs.take(np.flatnonzero(hold))
    return det.build(
        tr.entity_hash, tr.addrs, va.entity_hash, va.addrs, lambda h, a: np.zeros(len(h)), seed=1
    )


def test_a_detector_is_read_once_per_model_and_a_missing_one_is_none(aws, clients):
    settings, _ = aws
    bucket = settings.results_bucket_name
    found = _detector()
    clients("s3").put_object(
        Bucket=bucket, Key=artifact_key("models/", "ipi-a", DETECTOR_FILE), Body=found.to_bytes()
    )
    s3 = _CountingS3(clients("s3"))
    cache = DetectorCache(s3, bucket, "models/")
    first = cache.get("ipi-a")
    assert first is not None and first.weights() == found.weights()
    assert cache.get("ipi-a") is first and s3.gets == 1
    assert cache.get("ipi-b") is None  # no detector published for it
    assert cache.get("ipi-b") is None and s3.gets == 2  # a miss is not asked again at once
    second = _detector()
    clients("s3").put_object(
        Bucket=bucket, Key=artifact_key("models/", "ipi-b", DETECTOR_FILE), Body=second.to_bytes()
    )
    cache.retry_missing_s = 0.0  # published since: a warm function picks it up
    assert cache.get("ipi-b") is not None and s3.gets == 3
    assert cache.get("ipi-a") is not first and s3.gets == 4  # only the last model is held


def test_other_s3_errors_are_raised(aws, clients):
    cache = DetectorCache(clients("s3"), "no-such-bucket-lakewatch", "models/")
    with pytest.raises(ClientError, match="NoSuchBucket"):
        cache.get("ipi-a")
