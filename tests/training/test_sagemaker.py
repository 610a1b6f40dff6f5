"""training.sagemaker: the training job and model configurations in the API's shape (built-in and
script mode), a deterministic source tarball, and jobs reused or renamed; SageMaker's built-in
RCF trained on the window's headerless CSV (text/csv;label_size=0, ShardedByS3Key) with
SageMaker's defaults, and its model."""

import json
import time

import pytest
from botocore.stub import Stubber

from lakewatch.aws.clients import Boto3Clients
from lakewatch.extract.rcf_features import FEATURES
from lakewatch.model.hyperparameters import resolve
from lakewatch.model.rcf.hyperparameters import resolve_rcf
from lakewatch.names import training_job_name
from lakewatch.training import pipeline
from lakewatch.training.sagemaker import (
    artifact_uri,
    model_config,
    rcf_model_config,
    rcf_training_job_config,
    source_tarball,
    training_job_config,
)

ROLE = "arn:aws:iam::123456789012:role/lakewatch-sagemaker"


JOB_ARN = "arn:aws:sagemaker:us-east-1:123456789012:training-job/x"


def _config(algorithm, **kw):
    hp = resolve({"epochs": 3}, distinct_entities=10)
    return training_job_config(
        name="ipi-20261105-abc",
        algorithm=algorithm,
        hp=hp,
        region="us-east-1",
        role_arn=ROLE,
        train_manifest="s3://b/models/training/x/train.manifest",
        validation_manifest="s3://b/models/training/x/validation.manifest",
        output_path="s3://b/models/sagemaker",
        instance_type="ml.m5.xlarge",
        **kw,
    )


def test_builtin_config_is_the_api_shape(aws, clients):
    config = _config("builtin")
    assert config["AlgorithmSpecification"]["TrainingImage"].endswith("/ipinsights:1")
    assert set(config["HyperParameters"]) == {
        "num_entity_vectors",
        "vector_dim",
        "batch_metrics_publish_interval",
        "epochs",
        "learning_rate",
        "mini_batch_size",
        "num_ip_encoder_layers",
        "random_negative_sampling_rate",
        "shuffled_negative_sampling_rate",
        "weight_decay",
    }
    assert (
        config["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3DataType"] == "ManifestFile"
    )
    assert artifact_uri(config) == "s3://b/models/sagemaker/ipi-20261105-abc/output/model.tar.gz"
    settings, _ = aws
    sm = Boto3Clients(settings, endpoint_overrides={"sagemaker": settings.resolved_endpoint_url})(
        "sagemaker"
    )
    sm.create_training_job(**config)  # botocore validates every parameter against the API
    assert (
        sm.describe_training_job(TrainingJobName=config["TrainingJobName"])["TrainingJobName"]
        == config["TrainingJobName"]
    )


def test_script_mode_config(aws):
    config = _config("lakewatch", source_uri="s3://b/models/code/abc/sourcedir.tar.gz")
    assert "pytorch-training" in config["AlgorithmSpecification"]["TrainingImage"]
    hp = config["HyperParameters"]
    assert json.loads(hp["sagemaker_program"]) == "lakewatch_entry.py"
    assert json.loads(hp["epochs"]) == 3 and "ip_hash_buckets" in hp
    with pytest.raises(ValueError, match="source tarball"):
        _config("lakewatch")
    with pytest.raises(ValueError, match="ROLE_ARN"):
        training_job_config(
            name="x",
            algorithm="builtin",
            hp=resolve({}, distinct_entities=1),
            region="us-east-1",
            role_arn="",
            train_manifest="s3://b/t",
            validation_manifest="s3://b/v",
            output_path="s3://b/o",
            instance_type="ml.m5.xlarge",
        )


def test_source_tarball_is_deterministic_and_complete():
    first, digest = source_tarball()
    time.sleep(1.1)  # gzip's header timestamp must not leak into the bytes
    second, digest2 = source_tarball()
    assert first == second and digest == digest2
    import io
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(first)) as tar:
        names = tar.getnames()
    assert "lakewatch_entry.py" in names and "lakewatch/model/train.py" in names
    assert "lakewatch/serving/sagemaker_entry.py" in names


def test_sagemaker_job_reuses_waits_or_starts_with_the_next_name(aws):
    settings, _ = aws
    settings = settings.model_copy(update={"backend": "aws", "sagemaker_role_arn": ROLE})
    clients = Boto3Clients(
        settings.model_copy(update={"backend": "local"}),
        endpoint_overrides={
            "sagemaker": settings.resolved_endpoint_url or aws[0].resolved_endpoint_url
        },
    )
    plan_doc = {
        "model_id": "ipi-20261105-0123abcd",
        "hyperparameters": resolve({}, distinct_entities=5).to_dict(),
        "train_manifest": "s3://b/t.manifest",
        "validation_manifest": "s3://b/v.manifest",
    }
    sm = clients("sagemaker")
    stub = Stubber(sm)
    stub.add_client_error(
        "describe_training_job",
        "ValidationException",
        "not found",
        expected_params={"TrainingJobName": "ipi-20261105-0123abcd"},
    )
    with stub:
        job = pipeline.sagemaker_job(settings, clients, plan_doc, "builtin")
    assert job.action == "start" and job.name == "ipi-20261105-0123abcd"
    assert job.config["TrainingJobName"] == job.name and job.state is None
    stub = Stubber(sm)
    stub.add_response("describe_training_job", _described("Failed"))
    stub.add_response("describe_training_job", _described("InProgress"))
    with stub:
        job = pipeline.sagemaker_job(settings, clients, plan_doc, "builtin")
    assert job.action == "wait" and job.name == training_job_name(plan_doc["model_id"], 2)
    stub = Stubber(sm)
    stub.add_response("describe_training_job", _described("Completed"))
    with stub:
        assert pipeline.sagemaker_job(settings, clients, plan_doc, "builtin").action == "reuse"


def _described(status):
    from datetime import datetime

    return {
        "TrainingJobName": "x",
        "TrainingJobArn": JOB_ARN,
        "ModelArtifacts": {"S3ModelArtifacts": "s3://b/m"},
        "TrainingJobStatus": status,
        "SecondaryStatus": "Completed",
        "AlgorithmSpecification": {"TrainingInputMode": "File"},
        "ResourceConfig": {"VolumeSizeInGB": 1},
        "StoppingCondition": {},
        "CreationTime": datetime(2026, 11, 5),
    }


def test_model_configs():
    builtin = model_config(
        name="ipi-1",
        algorithm="builtin",
        artifact="s3://b/m.tar.gz",
        region="us-east-1",
        role_arn=ROLE,
        instance_type="ml.m5.large",
    )
    assert builtin["PrimaryContainer"]["Image"].endswith("/ipinsights:1")
    ours = model_config(
        name="ipi-1",
        algorithm="lakewatch",
        artifact="s3://b/m.tar.gz",
        region="us-east-1",
        role_arn=ROLE,
        instance_type="ml.m5.large",
        source_uri="s3://b/src.tar.gz",
    )
    assert "pytorch-inference" in ours["PrimaryContainer"]["Image"]
    assert ours["PrimaryContainer"]["Environment"]["SAGEMAKER_PROGRAM"] == "lakewatch_entry.py"


def _rcf_config(**kw):
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


def _rcf_sagemaker(aws):
    settings, _ = aws
    return Boto3Clients(settings, endpoint_overrides={"sagemaker": settings.resolved_endpoint_url})(
        "sagemaker"
    )


def test_the_training_job_is_sagemakers_rcf_with_its_defaults(aws):
    config = _rcf_config()
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
    sm = _rcf_sagemaker(aws)
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
    sm = _rcf_sagemaker(aws)
    sm.create_model(**config)
    described = sm.describe_model(ModelName="rcf-20261105-abc")
    assert described["PrimaryContainer"]["ModelDataUrl"].endswith("/output/model.tar.gz")


def test_an_rcf_plan_gets_sagemakers_rcf_job_reused_waited_or_started(aws):
    from lakewatch.training.rcf_plan import RcfPlan

    settings, _ = aws
    settings = settings.model_copy(update={"backend": "aws", "sagemaker_role_arn": ROLE})
    clients = Boto3Clients(
        settings.model_copy(update={"backend": "local"}),
        endpoint_overrides={"sagemaker": aws[0].resolved_endpoint_url},
    )
    plan = RcfPlan(
        model_id="rcf-20261105-0123abcd",
        window_start="2026-10-29",
        window_end="2026-11-05",
        rows=5000,
        instances=60,
        train_key="models/training/rcf-20261105-0123abcd/rcf/train.csv",
        features_key="models/training/rcf-20261105-0123abcd/features.json",
        hyperparameters={"num_trees": 100, "num_samples_per_tree": 256},
    )
    plan_doc = plan.to_json()
    assert plan_doc["algorithm"] == "rcf" and RcfPlan.from_json(plan_doc) == plan
    sm = clients("sagemaker")
    stub = Stubber(sm)
    stub.add_response("describe_training_job", _described("Failed"))
    stub.add_client_error("describe_training_job", "ValidationException", "not found")
    with stub:
        job = pipeline.sagemaker_job(settings, clients, plan_doc, "builtin")
    assert job.action == "start" and job.name == "rcf-20261105-0123abcd-r2"
    assert job.config["TrainingJobName"] == job.name
    assert job.config["AlgorithmSpecification"]["TrainingImage"].endswith("/randomcutforest:1")
    source = job.config["InputDataConfig"][0]["DataSource"]["S3DataSource"]
    assert source["S3Uri"].endswith("/models/training/rcf-20261105-0123abcd/rcf/")
    assert job.artifact.endswith("/rcf-20261105-0123abcd-r2/output/model.tar.gz")
    stub = Stubber(sm)
    stub.add_response("describe_training_job", _described("Completed"))
    with stub:
        assert pipeline.sagemaker_job(settings, clients, plan_doc, "builtin").action == "reuse"
    with pytest.raises(ValueError, match="not an RCF plan"):
        RcfPlan.from_json({**plan_doc, "algorithm": "builtin"})
