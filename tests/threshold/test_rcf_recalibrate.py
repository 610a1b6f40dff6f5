"""threshold.rcf_recalibrate: the RCF night writes its record and picture under
thresholds/rcf/, publishes to its own SSM parameter only when accepted, and a refused night
leaves its evidence and publishes nothing."""

import json

import numpy as np
import pytest

from lakewatch.lake.sink import S3Store
from lakewatch.names import rcf_threshold_parameter, rcf_thresholds_prefix
from lakewatch.threshold.publish import read_published
from lakewatch.threshold.rcf_recalibrate import choose_rcf, publish_rcf
from lakewatch.threshold.recalibrate import Refused


def _skewed(n, seed):
    return 0.5 + np.random.default_rng(seed).lognormal(0, 0.8, n)


def _night(clients, settings, scores, hours, **kw):
    store = S3Store(clients("s3"), settings.results_bucket_name)
    return store, choose_rcf(
        store,
        clients("ssm"),
        thresholds_prefix=settings.thresholds_prefix,
        threshold_parameter=f"/lakewatch/{settings.results_bucket_name}",
        day="2026-11-05",
        model_id="rcf-20261104-abc",
        endpoint="lakewatch-rcf",
        scores=scores,
        hour_starts=hours,
        target_fpr=0.01,
        **kw,
    )


def test_the_night_writes_evidence_then_publishes(aws, clients):
    settings, _ = aws
    hours = np.arange(2000) * 3_600_000
    store, record = _night(clients, settings, _skewed(2000, 3), hours)
    prefix = rcf_thresholds_prefix(settings.thresholds_prefix)
    keys = sorted(store.list(prefix))
    night = f"{prefix}history/day=2026-11-05/"
    assert keys == sorted([f"{night}record.json", f"{night}threshold.png", f"{prefix}history.json"])
    assert store.get(f"{night}threshold.png")[:8] == b"\x89PNG\r\n\x1a\n"
    doc = json.loads(store.get(f"{night}record.json"))
    assert doc["score"] == "rcf" and set(doc["evaluation"]["rules"]) == {"quantile", "mean_3sd"}
    parameter = rcf_threshold_parameter(f"/lakewatch/{settings.results_bucket_name}")
    assert read_published(clients("ssm"), parameter) is None  # chosen, not yet published
    published = publish_rcf(
        store,
        clients("ssm"),
        thresholds_prefix=settings.thresholds_prefix,
        threshold_parameter=f"/lakewatch/{settings.results_bucket_name}",
        day="2026-11-05",
    )
    read = read_published(clients("ssm"), parameter)
    assert read is not None and read.flags_above and read.threshold == record.threshold
    assert read.version == published.version == 1
    # IP Insights' own evidence folder holds nothing of RCF's
    assert not list(store.list(settings.thresholds_prefix + "history/"))


def test_a_refused_night_leaves_evidence_and_publishes_nothing(aws, clients):
    settings, _ = aws
    with pytest.raises(Refused, match="held-out normal hours"):
        _night(clients, settings, _skewed(50, 3), np.arange(50) * 3_600_000)
    store = S3Store(clients("s3"), settings.results_bucket_name)
    prefix = rcf_thresholds_prefix(settings.thresholds_prefix)
    doc = json.loads(store.get(f"{prefix}history/day=2026-11-05/record.json"))
    assert doc["refused"]
    with pytest.raises(Refused, match="was refused"):
        publish_rcf(
            store,
            clients("ssm"),
            thresholds_prefix=settings.thresholds_prefix,
            threshold_parameter=f"/lakewatch/{settings.results_bucket_name}",
            day="2026-11-05",
        )
    parameter = rcf_threshold_parameter(f"/lakewatch/{settings.results_bucket_name}")
    assert read_published(clients("ssm"), parameter) is None
