"""Nightly recalibration on the local backend: publish, rerun, and refuse a broken model."""

import io
import json
from datetime import timedelta

import numpy as np
import pytest
from PIL import Image

from lakewatch.lake.sink import S3Store
from lakewatch.local.bootstrap import read_alerts
from lakewatch.local.endpoints import LocalEndpoints
from lakewatch.model.artifact import ModelArtifact
from lakewatch.model.registry import ModelRecord, Registry
from lakewatch.threshold.choose import tail_threshold
from lakewatch.threshold.publish import read_published
from tests.dags.helpers import DAYS, START, at, dag, extract_and_train, states

pytestmark = pytest.mark.e2e
NIGHT = START + timedelta(days=DAYS - 1)  # inside the training window: validation split
CONF = {"min_normal": 50, "max_normal": 5000}


def _recalibrate(conf=None):
    # the run at NIGHT + 1 recalibrates on NIGHT
    return dag("lakewatch_recalibrate").test(
        logical_date=at(NIGHT + timedelta(days=1)), run_conf={**CONF, **(conf or {})}
    )


def _deploy_broken_model(settings, clients, registry, good):
    """The same model with its embedding tables replaced by noise: it must not pass."""
    store = S3Store(clients("s3"), settings.results_bucket_name)
    art = ModelArtifact.load(store.get(good.artifact_uri.split(f"{store.bucket}/")[1]))
    rng = np.random.default_rng(0)
    art.entity = rng.normal(size=art.entity.shape).astype(np.float32)
    art.ip_tokens = rng.normal(size=art.ip_tokens.shape).astype(np.float32)
    model_id = good.model_id + "-broken"
    endpoints = LocalEndpoints(settings)
    with art.save(settings.state_dir / "broken").open("rb") as f:
        model_dir = endpoints.install(model_id, f.read())
    endpoints.deploy(settings.endpoint_name, model_id, model_dir)
    registry.register(ModelRecord(**{**good.to_json(), "model_id": model_id}))
    registry.record_deploy(settings.endpoint_name, model_id)


def test_recalibration_publishes_explains_and_refuses_a_broken_model(lake, clients):
    settings = lake
    assert str(extract_and_train().state) == "success"
    store = S3Store(clients("s3"), settings.results_bucket_name)
    registry = Registry(store, settings.models_prefix)
    good = registry.get(registry.endpoint(settings.endpoint_name).current)

    run = _recalibrate()
    assert str(run.state) == "success", states(run)
    published = read_published(clients("ssm"), settings.threshold_parameter)
    assert published.model_id == good.model_id and published.day == NIGHT.isoformat()
    prefix = f"{settings.thresholds_prefix}history/day={NIGHT.isoformat()}/"
    record = json.loads(store.get(f"{prefix}record.json"))
    assert record["published"] and record["threshold"] == published.threshold
    assert record["evaluation"]["chosen"]["fpr"] <= 0.001 + 1e-12
    chosen = record["evaluation"]["chosen"]
    assert chosen["fpr_low"] <= chosen["fpr"] <= chosen["fpr_high"]  # the estimate's interval
    assert published.score == record["score"] == "detector"  # the model has a detector
    assert published.strict_threshold <= published.threshold and published.scale > 0
    assert set(record["evaluation"]["auc_by_kind"]) == {
        "random_public",
        "unused_subnet",
        "shuffled",
    }
    # the normal set: every window day's held-out validation split, not the night's alone
    assert any(
        f"validation splits of the model's {len(good.days)} training days" in note
        for note in record["notes"]
    )
    work = f"{settings.thresholds_prefix}work/day={NIGHT.isoformat()}/"
    normal = {tuple(p) for p in json.loads(store.get(f"{work}sets.json"))["normal"]}
    night_parts = [k for k in good.extra["validation_parts"] if f"day={NIGHT.isoformat()}" in k]
    assert night_parts and len(night_parts) < len(good.extra["validation_parts"])
    night_pairs = {
        tuple(line.split(",", 1)) for k in night_parts for line in store.get(k).decode().split()
    }
    assert normal - night_pairs, "no pair of an earlier day's validation split"
    # the strict threshold: the tail of this set, extrapolated where it is too small to read
    scores = json.loads(store.get(f"{work}scores.json"))["scores"]["normal"]
    assert published.strict_threshold == pytest.approx(tail_threshold(scores, 1e-4, 1e-2))
    # the held-out split was matched to a fresh day's share of already-seen pairs
    assert any(note.startswith("seen in training") for note in record["notes"])
    assert published.loose_threshold >= published.threshold
    assert isinstance(record["entity_rates"], dict)
    # per-view thresholds measured each night; published only when adopted
    assert record["views"]["normal_pairs"]["outbound"] > 0 and record["views"]["reason"]
    assert any(note.startswith("thresholds per view: ") for note in record["notes"])
    assert bool(published.view_offsets) == record["views"]["adopted"]
    assert Image.open(io.BytesIO(store.get(f"{prefix}threshold.png"))).format == "PNG"

    rerun = _recalibrate()
    assert str(rerun.state) == "success", states(rerun)
    again = read_published(clients("ssm"), settings.threshold_parameter)
    assert again.version == published.version  # same night, same value: no new version
    assert sorted(store.list(prefix)) == [f"{prefix}record.json", f"{prefix}threshold.png"]

    _deploy_broken_model(settings, clients, registry, good)
    read_alerts(clients("sqs"))  # earlier tests' alerts
    refused = _recalibrate()
    result = states(refused)
    assert result["choose_threshold"] == "failed" and result["publish"] == "upstream_failed"
    # on-call hears of it: the DAG's failure notifier, through SNS, in the inbox queue
    alerts = [a for a in read_alerts(clients("sqs"), wait_s=2) if refused.run_id in a["message"]]
    assert [a["subject"] for a in alerts] == ["lakewatch: lakewatch_recalibrate failed"]
    assert "last task: choose_threshold" in alerts[0]["message"]
    still = read_published(clients("ssm"), settings.threshold_parameter)
    assert still.model_id == good.model_id and still.version == published.version
    evidence = json.loads(store.get(f"{prefix}record.json"))
    assert not evidence["published"] and "below the floor" in evidence["refused"][0]


def test_fresh_install_skips_and_missing_data_fails_fast(lake, clients):
    settings = lake
    run = _recalibrate()
    assert states(run)["prepare_sets"] == "skipped"  # nothing deployed yet: nothing to do
    registry = Registry(
        S3Store(clients("s3"), settings.results_bucket_name), settings.models_prefix
    )
    registry.register(ModelRecord("ipi-x", "s3://b/m", "lakewatch", {}, {}, [], extra={}))
    registry.record_deploy(settings.endpoint_name, "ipi-x")
    run = _recalibrate()  # a model is deployed but no extract exists for the night
    [ti] = [ti for ti in run.get_task_instances() if ti.task_id == "prepare_sets"]
    assert str(ti.state) == "failed" and ti.try_number == 1  # not retried
