"""training.pipeline: the train DAG's steps on the backend-neutral side: the plan with the
schedule's sizes, training in the worker (reused on a rerun), the registry record, and the
smoke check's known-normal sample."""

import json
from datetime import date

import pytest

from lakewatch.extract.daily import results_store
from lakewatch.model.artifact import ModelArtifact
from lakewatch.model.registry import Registry
from lakewatch.training import pipeline
from lakewatch.training.pipeline import TrainingJob, TrainOptions
from tests.training.test_plan import _publish_days


def test_defaults_leave_the_schedule_to_size_batch_and_epochs():
    defaults = pipeline.default_hyperparameters()
    assert defaults["epochs"] is None and defaults["mini_batch_size"] is None
    assert defaults["vector_dim"] and defaults["num_ip_encoder_layers"] is not None


def test_builtin_training_refuses_ipv6_pairs(aws, clients):
    settings, _ = aws
    options = TrainOptions(algorithm="builtin", include_ipv6=True)
    with pytest.raises(ValueError, match="IPv4 only"):
        pipeline.plan(settings, clients, date(2026, 11, 5), options)


@pytest.fixture
def planned(aws, clients):
    settings, _ = aws
    store = results_store(settings, clients)
    _publish_days(store, [date(2026, 11, d) for d in (1, 2, 4)])
    options = TrainOptions(window_days=4, min_train_rows=100, hyperparameters={"epochs": 1})
    return settings, store, pipeline.plan(settings, clients, date(2026, 11, 5), options)


def test_the_plan_sizes_what_it_does_not_pin(planned):
    _, _, plan = planned
    hp = plan.hyperparameters
    assert hp["epochs"] == 1  # pinned by the caller
    assert hp["mini_batch_size"] >= 500  # the schedule's: pairs/200, at least 500
    assert hp["num_entity_vectors"] == 2 * plan.entities_upper_bound


def test_training_in_the_worker_then_reused_and_registered(planned, clients):
    settings, store, plan = planned
    doc = plan.to_json()
    logged: list[str] = []
    first = pipeline.train_local(settings, clients, doc, log=logged.append)
    assert not first["reused"] and first["artifact"].endswith(f"{plan.model_id}/model.tar.gz")
    art = ModelArtifact.load(pipeline.fetch_artifact(settings, clients, first["artifact"]))
    assert art.hp.epochs == 1
    again = pipeline.train_local(settings, clients, doc, log=logged.append)
    assert again == {"artifact": first["artifact"], "reused": True, "stats": {}}
    assert "already trained" in logged[-1]
    record = pipeline.register(settings, clients, doc, "lakewatch", first["artifact"], {"auc": 1})
    stored = Registry(store, settings.models_prefix).get(plan.model_id)
    assert stored == record and stored.extra["train_parts"] == plan.train_parts
    assert stored.data_interval == {"start": plan.window_start, "end": plan.window_end}


def test_the_dags_params_become_options():
    params = {"window_days": 3, "min_train_rows": 10, "views": ["egress_peer"]}
    params |= {"include_ipv6": True, **{name: None for name in pipeline.HP_PARAMS}}
    options = TrainOptions.from_params(params | {"epochs": 2}, "builtin")
    assert options.views == ("egress_peer",) and options.algorithm == "builtin"
    assert options.hyperparameters is not None and options.hyperparameters["epochs"] == 2
    assert set(options.hyperparameters) == set(pipeline.HP_PARAMS)


def test_the_plan_carries_the_algorithm_that_trains_it(planned):
    _, _, plan = planned
    assert plan.algorithm == plan.to_json()["algorithm"] == "lakewatch"


def test_a_training_job_travels_as_json_and_is_validated_where_read():
    job = TrainingJob(action="wait", name="ipi-1-r2", state="InProgress", artifact="s3://b/m")
    assert TrainingJob.from_json(json.loads(json.dumps(job.to_json()))) == job
    assert TrainingJob(action="local").to_json()["name"] == ""
    with pytest.raises(ValueError, match="action"):
        TrainingJob.from_json({"action": "train"})


def test_a_worker_trained_model_registers_its_validation_metrics(planned, clients):
    settings, _, plan = planned
    stats = {"validation:discriminator_auc": 0.9, "train_pairs": 10, "epoch_seconds": [1.0]}
    local = {"artifact": "s3://r/m.tar.gz", "reused": False, "stats": stats}
    job = TrainingJob(action="local")
    record = pipeline.register_trained(settings, clients, plan.to_json(), job, local)
    assert record.metrics == {"validation:discriminator_auc": 0.9, "train_pairs": 10}
    assert record.artifact_uri == "s3://r/m.tar.gz" and record.training_job == ""
    with pytest.raises(ValueError, match="train_local left no result"):
        pipeline.register_trained(settings, clients, plan.to_json(), job, None)


def test_the_smoke_sample_is_validation_pairs_up_to_the_limit(planned, clients):
    settings, store, plan = planned
    ents, ips = pipeline.validation_sample(settings, clients, plan.to_json(), limit=70)
    assert len(ents) == len(ips) == 70 and set(ips) == {"10.0.0.2"}  # the validation rows
    assert pipeline.exists(store, plan.validation_parts[0])
    assert not pipeline.exists(store, "no/such/key")
