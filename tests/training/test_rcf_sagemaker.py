"""training.sagemaker's RCF configs: SageMaker's built-in Random Cut Forest, trained on the
window's headerless CSV (``text/csv;label_size=0``, ``ShardedByS3Key``) with SageMaker's
defaults, and its model; botocore (through moto) validates each request against the API."""

import pytest

from lakewatch.aws.clients import Boto3Clients
from lakewatch.extract.rcf_features import FEATURES
from lakewatch.model.rcf.hyperparameters import resolve_rcf
from lakewatch.training.sagemaker import (
    artifact_uri,
    rcf_model_config,
    rcf_training_job_config,
)

ROLE = "arn:aws:iam::123456789012:role/lakewatch-sagemaker"


def _config(**kw):
    return rcf_training_job_config(
        name="rcf-20261105-abc",
        hp=resolve_rcf({}, columns=len(FEATURES)),
        region="us-east-1",
        role_arn=ROLE,
        train_uri="s3://b/models/training/rcf-20261105-abc/rcf",
        output_path="s3://b/models/sagemaker",
        instance_type="ml.m5.xlarge",
        **kw,
    )


def _sagemaker(aws):
    settings, _ = aws
    return Boto3Clients(settings, endpoint_overrides={"sagemaker": settings.resolved_endpoint_url})(
        "sagemaker"
    )


def test_the_training_job_is_sagemakers_rcf_with_its_defaults(aws):
    config = _config()
    assert config["AlgorithmSpecification"]["TrainingImage"] == (
        "382416733822.dkr.ecr.us-east-1.amazonaws.com/randomcutforest:1"
    )
    assert config["HyperParameters"] == {
        "feature_dim": str(len(FEATURES)),
        "num_trees": "100",
        "num_samples_per_tree": "256",
    }
    [channel] = config["InputDataConfig"]
    assert channel["ChannelName"] == "train"
    assert channel["ContentType"] == "text/csv;label_size=0"
    source = channel["DataSource"]["S3DataSource"]
    assert source == {
        "S3DataType": "S3Prefix",
        "S3Uri": "s3://b/models/training/rcf-20261105-abc/rcf/",
        "S3DataDistributionType": "ShardedByS3Key",
    }
    assert artifact_uri(config) == "s3://b/models/sagemaker/rcf-20261105-abc/output/model.tar.gz"
    sm = _sagemaker(aws)
    sm.create_training_job(**config)  # botocore validates every parameter against the API
    job = sm.describe_training_job(TrainingJobName="rcf-20261105-abc")
    assert job["HyperParameters"]["feature_dim"] == str(len(FEATURES))


def test_hyperparameters_follow_the_resolved_ones_and_bad_inputs_are_refused():
    hp = resolve_rcf({"num_trees": 200, "num_samples_per_tree": 512}, columns=len(FEATURES))
    config = rcf_training_job_config(
        name="x",
        hp=hp,
        region="eu-west-1",
        role_arn=ROLE,
        train_uri="s3://b/t",
        output_path="s3://b/o",
        instance_type="ml.m5.xlarge",
        instance_count=2,
    )
    assert config["HyperParameters"]["num_trees"] == "200"
    assert config["HyperParameters"]["num_samples_per_tree"] == "512"
    assert config["ResourceConfig"]["InstanceCount"] == 2
    assert "eu-west-1" in config["AlgorithmSpecification"]["TrainingImage"]
    with pytest.raises(ValueError, match="ROLE_ARN"):
        rcf_training_job_config(
            name="x",
            hp=hp,
            region="us-east-1",
            role_arn="",
            train_uri="s3://b/t",
            output_path="s3://b/o",
            instance_type="ml.m5.xlarge",
        )
    with pytest.raises(ValueError, match="from S3"):
        rcf_training_job_config(
            name="x",
            hp=hp,
            region="us-east-1",
            role_arn=ROLE,
            train_uri="/tmp/train",
            output_path="s3://b/o",
            instance_type="ml.m5.xlarge",
        )


def test_the_model_serves_the_jobs_artifact_on_the_rcf_image(aws):
    config = rcf_model_config(
        name="rcf-20261105-abc",
        artifact="s3://b/models/sagemaker/rcf-20261105-abc/output/model.tar.gz",
        region="us-east-1",
        role_arn=ROLE,
    )
    assert config["PrimaryContainer"]["Image"].endswith("/randomcutforest:1")
    sm = _sagemaker(aws)
    sm.create_model(**config)
    described = sm.describe_model(ModelName="rcf-20261105-abc")
    assert described["PrimaryContainer"]["ModelDataUrl"].endswith("/output/model.tar.gz")
