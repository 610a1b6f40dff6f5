"""extract -> export -> train -> deploy -> smoke check, on the local backend under dag.test()."""

import json
from datetime import UTC, date, datetime, timedelta

import boto3
import pytest

from lakewatch.extract.export import PairSet, day_prefix, read_manifest
from lakewatch.lake.generator import GenerateOptions
from lakewatch.lake.sink import S3Store
from lakewatch.lake.write import write_lake
from lakewatch.model.registry import Registry
from tests.conftest import REPO

pytestmark = pytest.mark.e2e
START = date(2026, 11, 1)
DAYS = 5


def _dag(dag_id):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags" / f"{dag_id}.py"))
    assert not bag.import_errors, bag.import_errors
    return bag.get_dag(dag_id)


def _states(run):
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def _extract(day: date, conf=None):
    # a manual run of a data-interval timetable covers the interval that ends at its logical
    # date, so the run for `day` is the one at day + 1
    logical = datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)
    return _dag("lakewatch_extract").test(logical_date=logical, run_conf=conf or {})


@pytest.fixture
def lake(airflow_env, clients):
    settings, _ = airflow_env
    write_lake(
        GenerateOptions(days=DAYS, start=START, rows_per_day=4000, seed=21),
        S3Store(clients("s3"), settings.lake_bucket_name),
    )
    return settings


def test_extract_day_publishes_and_reruns_idempotently(lake, clients):
    settings = lake
    run = _extract(START)
    assert str(run.state) == "success", _states(run)
    store = S3Store(clients("s3"), settings.results_bucket_name)
    prefix = day_prefix(settings.extracts_prefix, "2.0", PairSet(), START)
    first = read_manifest(store, prefix)
    assert first.day == START.isoformat() and first.rows > 0
    body = store.get(first.parts["train"][0])
    again = _extract(START)
    assert str(again.state) == "success"
    second = read_manifest(store, prefix)
    assert second.attempt != first.attempt and second.rows == first.rows
    assert store.get(second.parts["train"][0]) == body  # same objects' content
    keys = sorted(store.list(prefix))
    assert len(keys) == 3  # manifest + train + validation: the first attempt's parts are gone


def test_empty_day_is_skipped_cleanly(lake):
    run = _extract(date(2026, 10, 1))
    assert _states(run) == {"extract_pairs": "skipped"}


def test_train_deploys_a_model_that_serves_and_reruns_change_nothing(lake, clients):
    settings = lake
    for d in range(DAYS):
        assert str(_extract(START + timedelta(days=d)).state) == "success"
    conf = {
        "epochs": 8,
        "vector_dim": 16,
        "mini_batch_size": 1000,
        "min_train_rows": 100,
        "window_days": 7,
    }
    logical = datetime.combine(START + timedelta(days=DAYS), datetime.min.time(), UTC)
    run = _dag("lakewatch_train").test(logical_date=logical, run_conf=conf)
    states = _states(run)
    assert str(run.state) == "success", states
    assert states["train_local"] == "success" and states["train_sagemaker"] == "skipped"
    assert states["smoke_check"] == "success"

    registry = Registry(
        S3Store(clients("s3"), settings.results_bucket_name), settings.models_prefix
    )
    [record] = registry.models()
    assert record.days == [(START + timedelta(days=d)).isoformat() for d in range(DAYS)]
    assert record.metrics["validation:discriminator_auc"] > 0.6
    assert record.hyperparameters["vector_dim"] == 16
    assert record.hyperparameters["num_entity_vectors"] >= 2 * 60
    endpoint = registry.endpoint(settings.endpoint_name)
    assert endpoint.current == record.model_id

    runtime = boto3.client(
        "sagemaker-runtime",
        endpoint_url=settings.model_server_url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    out = runtime.invoke_endpoint(
        EndpointName=settings.endpoint_name, Body=b"i-x,10.0.0.1\n", ContentType="text/csv"
    )
    assert "dot_product" in json.loads(out["Body"].read())["predictions"][0]

    rerun = _dag("lakewatch_train").test(logical_date=logical, run_conf=conf)
    assert str(rerun.state) == "success", _states(rerun)
    assert [r.model_id for r in registry.models()] == [record.model_id]  # no duplicate
    assert registry.endpoint(settings.endpoint_name).history == endpoint.history  # no redeploy


def test_too_little_data_leaves_the_deployed_model_alone(lake, clients):
    settings = lake
    _extract(START)
    logical = datetime.combine(START + timedelta(days=1), datetime.min.time(), UTC)
    run = _dag("lakewatch_train").test(
        logical_date=logical, run_conf={"min_train_rows": 10_000_000}
    )
    states = _states(run)
    assert states["plan"] == "skipped"
    assert states["deploy"] == "skipped" and states["smoke_check"] == "skipped"
    registry = Registry(
        S3Store(clients("s3"), settings.results_bucket_name), settings.models_prefix
    )
    assert registry.models() == [] and registry.endpoint(settings.endpoint_name).current == ""
