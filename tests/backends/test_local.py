"""backends.local: the emulator provisions everything (idempotently), DuckDB runs the SQL over
the lake bucket, training is always lakewatch's own, and the scorer's state is its process."""

import uuid

from lakewatch.backends import LocalBackend
from lakewatch.extract.engine import DuckAthena
from lakewatch.serving.lambda_config import scorer_config


def test_provision_is_idempotent_and_creates_both_buckets_and_queues(emulator_settings, clients):
    tag = uuid.uuid4().hex[:8]
    settings = emulator_settings.model_copy(
        update={
            "lake_suffix": f"l{tag}",
            "results_bucket": f"r-{tag}",
            "queue_name": f"q-{tag}",
            "dlq_name": f"d-{tag}",
        }
    )
    backend = LocalBackend(settings)
    first = backend.provision(clients)
    assert backend.provision(clients) == first
    buckets = {b["Name"] for b in clients("s3").list_buckets()["Buckets"]}
    assert {settings.lake_bucket_name, f"r-{tag}"} <= buckets
    assert first.queue_url.endswith(f"q-{tag}") and first.dlq_url.endswith(f"d-{tag}")


def test_compute_seams(aws, clients, tmp_path):
    settings, _ = aws
    backend = LocalBackend(settings.model_copy(update={"state_dir": tmp_path}))
    assert backend.training_algorithm("builtin") == "lakewatch"
    assert backend.training_algorithm("rcf") == "rcf"  # lakewatch's own RCF
    assert backend.training_job(clients, {"algorithm": "builtin"}).action == "local"
    assert backend.training_job(clients, {"algorithm": "rcf"}).action == "local"
    engine = backend.sql_engine(clients)
    assert isinstance(engine, DuckAthena)
    assert engine.location.root == settings.lake_bucket_name
    assert backend.sql_engine(clients, str(tmp_path)).location.root == str(tmp_path)
    assert backend.runtime_url() == settings.model_server_url
    assert backend.scorer_mapping_state(clients) == "the local scorer runtime is not running"
    env = backend.scorer_environment(clients, scorer_config(settings, clients))
    assert env["LAKEWATCH_LOCAL"] == "1"
