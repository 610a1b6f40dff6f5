"""training.rcf_plan: the window's feature rows from the lake become one standardized
training set and its profile under the model's training folder; the same window gives the
same model id; lakewatch's RCF trains from them locally (the artifact and its profile where
the scorer reads them), and SageMaker's job reads the same folder."""

import json
from datetime import date

import numpy as np
import pyarrow.parquet as pq
import pytest

from lakewatch import names
from lakewatch.aws.clients import Boto3Clients
from lakewatch.extract import rcf_features as rf
from lakewatch.extract.engine import DuckAthena, LakeLocation
from lakewatch.lake.sink import S3Store
from lakewatch.lake.synthetic import GenerateOptions, LakeGenerator
from lakewatch.model.rcf.artifact import RcfArtifact
from lakewatch.training.plan import NotEnoughData
from lakewatch.training.rcf_plan import (
    plan_rcf,
    publish_features,
    rcf_job_config,
    train_rcf_local,
    window_rows,
)

ROLE = "arn:aws:iam::123456789012:role/lakewatch-sagemaker"
END = date(2026, 11, 3)


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    root = tmp_path_factory.mktemp("rcf-plan-lake")
    gen = LakeGenerator(GenerateOptions(days=2, start=date(2026, 11, 1), rows_per_day=6000, seed=9))
    for obj in gen.objects():
        path = root / obj.key
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(obj.table, path)
    return DuckAthena(LakeLocation.open(str(root)))


def _plan(engine, store, **kw):
    return plan_rcf(
        engine,
        store,
        models_prefix="models/",
        region="us-east-1",
        source_version="2.0",
        window_end=kw.pop("window_end", END),
        window_days=2,
        min_rows=kw.pop("min_rows", 100),
        hyperparameters={"num_trees": 50},
        **kw,
    )


def test_the_window_becomes_a_standardized_training_set_and_its_profile(aws, clients, engine):
    settings, _ = aws
    store = S3Store(clients("s3"), settings.results_bucket_name)
    plan = _plan(engine, store)
    rows = window_rows(
        engine, region="us-east-1", source_version="2.0", window_end=END, window_days=2
    )
    assert plan.rows == rows.num_rows > 100 and plan.model_id.startswith("rcf-20261103-")
    assert plan.train_key == f"models/training/{plan.model_id}/rcf/train.csv"
    matrix = np.loadtxt(store.get(plan.train_key).decode().splitlines(), delimiter=",")
    assert matrix.shape == (plan.rows, len(rf.FEATURES))
    profile = rf.FeatureProfile.from_dict(json.loads(store.get(plan.features_key)))
    assert np.allclose(matrix, profile.apply(rows), atol=1e-4)
    assert plan.instances == len(set(rows["instance"].to_pylist()))
    assert _plan(engine, store).model_id == plan.model_id  # a rerun finds the same id
    assert _plan(engine, store, window_end=date(2026, 11, 2)).model_id != plan.model_id
    with pytest.raises(NotEnoughData, match="instance-hours"):
        _plan(engine, store, min_rows=10**6)


def test_local_training_leaves_the_model_and_its_profile_where_the_scorer_reads(
    aws, clients, engine
):
    settings, _ = aws
    store = S3Store(clients("s3"), settings.results_bucket_name)
    plan = _plan(engine, store)
    uri = train_rcf_local(plan, store, clients, models_prefix="models/", log=lambda _: None)
    key = names.artifact_key("models/", plan.model_id)
    assert uri == store.uri(key)
    artifact = RcfArtifact.load(store.get(key))
    assert artifact.hp.num_trees == 50 and artifact.forest.feature_dim == len(rf.FEATURES)
    beside = store.get(names.artifact_key("models/", plan.model_id, rf.FEATURES_FILE))
    assert rf.FeatureProfile.from_dict(json.loads(beside)) == artifact.profile


def test_the_sagemaker_job_reads_the_same_folder(aws, clients, engine):
    settings, _ = aws
    store = S3Store(clients("s3"), settings.results_bucket_name)
    plan = _plan(engine, store)
    config = rcf_job_config(
        plan,
        store,
        models_prefix="models/",
        region="us-east-1",
        role_arn=ROLE,
        instance_type="ml.m5.xlarge",
    )
    source = config["InputDataConfig"][0]["DataSource"]["S3DataSource"]
    assert source["S3Uri"] == store.uri(f"models/training/{plan.model_id}/rcf/")
    assert config["HyperParameters"]["num_trees"] == "50"
    assert config["TrainingJobName"] == names.training_job_name(plan.model_id)
    sm = Boto3Clients(settings, endpoint_overrides={"sagemaker": settings.resolved_endpoint_url})(
        "sagemaker"
    )
    sm.create_training_job(**config)
    uri = publish_features(store, plan, models_prefix="models/")
    assert uri.endswith(f"models/artifacts/{plan.model_id}/features.json")
    assert store.get(names.artifact_key("models/", plan.model_id, rf.FEATURES_FILE)) == store.get(
        plan.features_key
    )
