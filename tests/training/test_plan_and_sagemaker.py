import json
import time
from datetime import date

import pytest
from botocore.stub import Stubber

from lakewatch.aws.clients import Boto3Clients
from lakewatch.extract.export import ExtractSummary, PairSet, day_prefix, publish
from lakewatch.lake.sink import S3Store
from lakewatch.model.hyperparameters import resolve
from lakewatch.names import training_job_name
from lakewatch.training import pipeline
from lakewatch.training.plan import NotEnoughData, plan_training
from lakewatch.training.sagemaker import (
    artifact_uri,
    model_config,
    source_tarball,
    training_job_config,
)

ROLE = "arn:aws:iam::123456789012:role/lakewatch-sagemaker"
JOB_ARN = "arn:aws:sagemaker:us-east-1:123456789012:training-job/x"


def _publish_days(store, days, rows=500):
    for d in days:
        prefix = day_prefix("extracts/", "2.0", PairSet(), d)
        train_key, val_key = f"{prefix}attempt=a/train.csv", f"{prefix}attempt=a/validation.csv"
        store.put(train_key, b"i-1,10.0.0.1\n" * rows)
        store.put(val_key, b"i-1,10.0.0.2\n" * (rows // 10))
        publish(
            store,
            prefix,
            ExtractSummary(
                day=d.isoformat(),
                pair_set=PairSet().key,
                source_version="2.0",
                rows=rows,
                entities=3,
                split_rows={"train": rows, "validation": rows // 10},
                parts={"train": [train_key], "validation": [val_key]},
                attempt="a",
            ),
        )


def _plan(store, window_days=4, min_rows=100, false_positives=None, **hp):
    """Plan training over November 2026 up to the 5th, as the train DAG would."""
    return plan_training(
        store,
        "extracts/",
        "models/",
        "2.0",
        PairSet(),
        date(2026, 11, 5),
        window_days,
        min_rows,
        hp,
        "lakewatch",
        false_positives=false_positives,
    )


def test_analysts_false_positives_join_the_training_pairs(aws, clients):
    """A pair labelled false positive is normal: training reads it as one more part, and the
    model id changes with the labels (a retrain after new labels is a new model)."""
    from lakewatch.review import feedback

    settings, _ = aws
    store = S3Store(clients("s3"), settings.results_bucket_name)
    _publish_days(store, [date(2026, 11, d) for d in (1, 2, 4)])
    plain = _plan(store, epochs=2)

    def label(uid, verdict, entity, ip, day, when):
        feedback.add_label(
            store,
            "feedback/",
            feedback.Label(uid, verdict, entity, ip, "egress_peer", day, "", "alice", when),
        )

    label("f1", "false_positive", "i-1", "45.1.1.1", "2026-11-03", "2026-11-03T10:00:00+00:00")
    label("f2", "false_positive", "i-2", "45.2.2.2", "2026-11-03", "2026-11-03T10:00:00+00:00")
    label("f2", "true_positive", "i-2", "45.2.2.2", "2026-11-03", "2026-11-03T11:00:00+00:00")
    label("f3", "false_positive", "i-3", "45.3.3.3", "2026-11-05", "2026-11-05T10:00:00+00:00")
    label("f4", "false_positive", "i-1,i-2", "45.4.4.4", "2026-11-03", "2026-11-03T10:00:00+00:00")
    labelled = feedback.labelled_pairs(store, "feedback/", before=date(2026, 11, 5))
    fps = labelled["false_positive"]
    assert fps == [("i-1", "45.1.1.1")]  # f2 relabelled, f3 after the window, f4 an incident
    assert labelled["true_positive"] == [("i-2", "45.2.2.2")]  # f2's latest verdict
    plan = _plan(store, epochs=2, false_positives=fps)
    assert plan.feedback_pairs == 1 and plan.train_rows == plain.train_rows + 1
    assert plan.model_id != plain.model_id
    part = plan.train_parts[-1]
    assert part == f"models/training/{plan.model_id}/feedback.csv"
    assert store.get(part) == b"i-1,45.1.1.1\n"
    manifest = json.loads(store.get(f"models/training/{plan.model_id}/train.manifest"))
    assert manifest[-1] == part


def test_plan_lists_the_window_and_writes_sagemaker_manifests(aws, clients):
    settings, _ = aws
    store = S3Store(clients("s3"), settings.results_bucket_name)
    _publish_days(store, [date(2026, 11, d) for d in (1, 2, 4)])
    plan = _plan(store, epochs=2)
    assert plan.days == ["2026-11-01", "2026-11-02", "2026-11-04"]
    assert plan.missing_days == ["2026-11-03"]
    assert plan.train_rows == 1500 and plan.entities_upper_bound == 9
    manifest = json.loads(
        store.get(plan.train_manifest.split(f"s3://{settings.results_bucket_name}/")[1])
    )
    assert manifest[0] == {"prefix": f"s3://{settings.results_bucket_name}/"}
    assert manifest[1:] == plan.train_parts
    again = _plan(store, epochs=2)
    assert again.model_id == plan.model_id  # deterministic
    other = _plan(store, epochs=3)
    assert other.model_id != plan.model_id
    # the manifest reads back as training input
    from lakewatch.model.data import read_pairs

    assert len(read_pairs(plan.train_manifest, clients)) == 1500


def test_not_enough_data_says_why(aws, clients):
    settings, _ = aws
    store = S3Store(clients("s3"), settings.results_bucket_name)
    with pytest.raises(NotEnoughData, match=r"0 training pairs in the 7 days before 2026-11-05"):
        _plan(store, window_days=7, min_rows=10)


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
    assert job["action"] == "start" and job["name"] == "ipi-20261105-0123abcd"
    stub = Stubber(sm)
    stub.add_response("describe_training_job", _described("Failed"))
    stub.add_response("describe_training_job", _described("InProgress"))
    with stub:
        job = pipeline.sagemaker_job(settings, clients, plan_doc, "builtin")
    assert job["action"] == "wait" and job["name"] == training_job_name(plan_doc["model_id"], 2)
    stub = Stubber(sm)
    stub.add_response("describe_training_job", _described("Completed"))
    with stub:
        assert pipeline.sagemaker_job(settings, clients, plan_doc, "builtin")["action"] == "reuse"


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
