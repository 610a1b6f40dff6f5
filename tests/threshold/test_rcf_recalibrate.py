"""threshold.rcf_recalibrate: the held-out hours are the days after the model's window,
scored through the endpoint as the model's own rows; the RCF night writes its record and
picture under thresholds/rcf/, publishes to its own SSM parameter only when accepted, and a
refused night leaves its evidence and publishes nothing."""

import json
from datetime import UTC, date, datetime

import numpy as np
import pyarrow.parquet as pq
import pytest

from lakewatch.extract import rcf_features as rf
from lakewatch.extract.engine import DuckAthena, LakeLocation
from lakewatch.lake.sink import S3Store
from lakewatch.lake.synthetic import GenerateOptions, LakeGenerator
from lakewatch.model.rcf.forest import fit
from lakewatch.model.rcf.hyperparameters import resolve_rcf
from lakewatch.names import rcf_threshold_parameter, rcf_thresholds_prefix
from lakewatch.threshold.publish import read_published
from lakewatch.threshold.rcf_recalibrate import (
    choose_rcf,
    heldout_days,
    heldout_scores,
    publish_rcf,
)
from lakewatch.threshold.recalibrate import Refused
from lakewatch.training.rcf_plan import window_rows
from tests.serving.test_rcf_smoke import ForestRuntime


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


def test_heldout_days_never_include_the_training_window():
    assert heldout_days(date(2026, 11, 3), date(2026, 11, 6)) == (date(2026, 11, 6), 2)
    assert heldout_days(date(2026, 11, 5), date(2026, 11, 6)) == (date(2026, 11, 6), 1)
    with pytest.raises(ValueError, match="no held-out day"):
        heldout_days(date(2026, 11, 6), date(2026, 11, 6))


def test_heldout_hours_are_scored_through_the_endpoint_as_the_models_rows(tmp_path):
    gen = LakeGenerator(GenerateOptions(days=3, start=date(2026, 11, 1), rows_per_day=6000, seed=4))
    for obj in gen.objects():
        path = tmp_path / obj.key
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(obj.table, path)
    engine = DuckAthena(LakeLocation.open(str(tmp_path)))
    common = {"region": "us-east-1", "source_version": "2.0"}
    train = window_rows(engine, window_end=date(2026, 11, 3), window_days=2, **common)
    profile = rf.FeatureProfile.fit(train)
    matrix = profile.apply(train)
    forest = fit(matrix, resolve_rcf({"num_trees": 50}, columns=matrix.shape[1]), seed=0)
    runtime = ForestRuntime(forest)
    scores, hours = heldout_scores(
        engine,
        runtime,
        "lakewatch-rcf",
        profile,
        window_end=date(2026, 11, 3),
        night=date(2026, 11, 4),
        **common,
    )
    day3 = int(datetime(2026, 11, 3, tzinfo=UTC).timestamp() * 1000)
    assert len(scores) == len(hours) > 100 and (hours >= day3).all()
    assert (hours < day3 + 86_400_000).all()
    held = window_rows(engine, window_end=date(2026, 11, 4), window_days=1, **common)
    expected = forest.score(profile.apply(held))
    np.testing.assert_allclose(scores, expected, rtol=1e-6)
    assert {c["EndpointName"] for c in runtime.calls} == {"lakewatch-rcf"}
