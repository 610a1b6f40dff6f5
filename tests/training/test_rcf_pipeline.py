"""training.rcf_pipeline: the RCF train DAG's steps on lakewatch's settings: a window planned
from the lake, trained in the worker and registered as an rcf model with its profile beside
it; after a SageMaker job, the record points at the job's artifact and the profile is put
beside it; the smoke check's rows are the training rows."""

import json
from datetime import date, timedelta

import numpy as np
import pyarrow.parquet as pq
import pytest

from lakewatch import names
from lakewatch.aws.clients import Boto3Clients
from lakewatch.extract import rcf_features as rf
from lakewatch.extract.engine import DuckAthena, LakeLocation
from lakewatch.lake.sink import S3Store
from lakewatch.lake.synthetic import GenerateOptions, LakeGenerator
from lakewatch.model.registry import Registry
from lakewatch.training import rcf_pipeline
from lakewatch.training.pipeline import TrainingJob, sagemaker_job

ROLE = "arn:aws:iam::123456789012:role/lakewatch-sagemaker"


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    root = tmp_path_factory.mktemp("rcf-pipeline-lake")
    gen = LakeGenerator(GenerateOptions(days=2, start=date(2026, 11, 1), rows_per_day=6000, seed=2))
    for obj in gen.objects():
        path = root / obj.key
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(obj.table, path)
    return DuckAthena(LakeLocation.open(str(root)))


def _plan(settings, clients, engine):
    return rcf_pipeline.plan(
        settings,
        clients,
        engine,
        date(2026, 11, 3),
        window_days=2,
        min_rows=100,
        hyperparameters={"num_trees": 50},
    )


def test_local_training_is_registered_as_an_rcf_model(aws, clients, engine):
    settings, _ = aws
    plan = _plan(settings, clients, engine)
    local = rcf_pipeline.train_local(settings, clients, plan.to_json(), log=lambda _: None)
    record = rcf_pipeline.register(
        settings, clients, plan.to_json(), TrainingJob(action="local"), local
    )
    assert record.algorithm == "rcf" and names.is_rcf_model(record.model_id)
    assert record.artifact_uri == local["artifact"]
    assert record.metrics["rows"] == plan.rows and record.data_interval["end"] == "2026-11-03"
    store = S3Store(clients("s3"), settings.results_bucket_name)
    assert Registry(store, settings.models_prefix).get(record.model_id) == record
    rows = rcf_pipeline.smoke_rows(settings, clients, plan.to_json(), rows=50)
    assert rows.shape == (50, len(rf.FEATURES)) and np.isfinite(rows).all()
    with pytest.raises(ValueError, match="no result"):
        rcf_pipeline.register(settings, clients, plan.to_json(), TrainingJob(action="local"), None)


def test_a_sagemaker_job_is_registered_with_the_profile_put_beside_its_model(aws, engine):
    settings, _ = aws
    settings = settings.model_copy(update={"sagemaker_role_arn": ROLE})
    clients = Boto3Clients(
        settings, endpoint_overrides={"sagemaker": settings.resolved_endpoint_url}
    )
    plan = _plan(settings, clients, engine)
    job = sagemaker_job(settings, clients, plan.to_json(), "rcf")
    assert job.action == "start"
    clients("sagemaker").create_training_job(**job.config)  # what the operator would start
    record = rcf_pipeline.register(settings, clients, plan.to_json(), job, None)
    assert record.artifact_uri == job.artifact and record.training_job == job.name
    store = S3Store(clients("s3"), settings.results_bucket_name)
    beside = store.get(names.artifact_key(settings.models_prefix, plan.model_id, rf.FEATURES_FILE))
    assert rf.FeatureProfile.from_dict(json.loads(beside)).hours


def test_the_window_leaves_the_latest_day_for_the_threshold():
    from lakewatch.threshold.rcf_recalibrate import heldout_days

    run_day = date(2026, 11, 6)
    end = rcf_pipeline.window_end_for(run_day)
    assert end == date(2026, 11, 5)
    # the recalibration its deploy triggers (night: the day before the run) has that day
    night = run_day - timedelta(days=1)
    assert heldout_days(end, night + timedelta(days=1)) == (run_day, 1)
