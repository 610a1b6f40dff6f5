"""extract -> export -> train -> deploy -> smoke check, on the local backend under dag.test()."""

import json
from datetime import date, timedelta

import pytest

from lakewatch.extract.export import PairSet, day_prefix, read_manifest
from lakewatch.lake.sink import S3Store
from lakewatch.model.registry import Registry
from tests.clients import runtime_client
from tests.dags.helpers import DAYS, START, TRAIN_CONF, at, dag, extract, extract_and_train, states

pytestmark = pytest.mark.e2e


def test_extract_day_publishes_and_reruns_idempotently(lake, clients):
    settings = lake
    run = extract(START)
    assert str(run.state) == "success", states(run)
    store = S3Store(clients("s3"), settings.results_bucket_name)
    prefix = day_prefix(settings.extracts_prefix, "2.0", PairSet(), START)
    first = read_manifest(store, prefix)
    assert first.day == START.isoformat() and first.rows > 0
    body = store.get(first.parts["train"][0])
    again = extract(START)
    assert str(again.state) == "success"
    second = read_manifest(store, prefix)
    assert second.attempt != first.attempt and second.rows == first.rows
    assert store.get(second.parts["train"][0]) == body  # same content, byte for byte
    assert len(list(store.list(prefix))) == 3  # manifest + train + validation; old parts gone


def test_empty_day_is_skipped_cleanly(lake):
    assert states(extract(date(2026, 10, 1))) == {"extract_pairs": "skipped"}


def test_train_deploys_a_model_that_serves_and_reruns_change_nothing(lake, clients):
    settings = lake
    run = extract_and_train()
    result = states(run)
    assert str(run.state) == "success", result
    assert result["train_local"] == "success" and result["train_sagemaker"] == "skipped"
    assert result["smoke_check"] == "success"

    registry = Registry(
        S3Store(clients("s3"), settings.results_bucket_name), settings.models_prefix
    )
    [record] = registry.models()
    assert record.days == [(START + timedelta(days=d)).isoformat() for d in range(DAYS)]
    assert record.metrics["validation:discriminator_auc"] > 0.6
    assert record.hyperparameters["vector_dim"] == 16
    assert record.hyperparameters["num_entity_vectors"] >= 2 * 60
    assert record.extra["pairs"] == PairSet().key
    endpoint = registry.endpoint(settings.endpoint_name)
    assert endpoint.current == record.model_id

    runtime = runtime_client(settings.model_server_url)
    out = runtime.invoke_endpoint(
        EndpointName=settings.endpoint_name, Body=b"i-x,10.0.0.1\n", ContentType="text/csv"
    )
    assert "dot_product" in json.loads(out["Body"].read())["predictions"][0]

    rerun = dag("lakewatch_train").test(
        logical_date=at(START + timedelta(days=DAYS)), run_conf=TRAIN_CONF
    )
    assert str(rerun.state) == "success", states(rerun)
    assert [r.model_id for r in registry.models()] == [record.model_id]  # no duplicate
    assert registry.endpoint(settings.endpoint_name).history == endpoint.history  # no redeploy


def test_too_little_data_leaves_the_deployed_model_alone(lake, clients):
    settings = lake
    extract(START)
    run = dag("lakewatch_train").test(
        logical_date=at(START + timedelta(days=1)), run_conf={"min_train_rows": 10_000_000}
    )
    result = states(run)
    assert result["plan"] == "skipped"
    assert result["deploy"] == "skipped" and result["smoke_check"] == "skipped"
    registry = Registry(
        S3Store(clients("s3"), settings.results_bucket_name), settings.models_prefix
    )
    assert registry.models() == [] and registry.endpoint(settings.endpoint_name).current == ""
