"""lakewatch_train's SageMaker training on aws, at the service boundary: the task creates the
job (its manifests checked on the emulator's S3, the SageMaker calls stubbed and validated by
botocore) and defers to the triggerer instead of polling; it resumes on the trigger's event,
and a failed job fails the task with SageMaker's reason."""

from datetime import datetime

import pytest
from airflow.sdk.exceptions import AirflowException, TaskDeferred
from botocore.stub import Stubber

from lakewatch.orchestration.runtime import task_clients
from tests.dags.helpers import dag
from tests.training.test_sagemaker import _config

ARN = "arn:aws:sagemaker:us-east-1:123456789012:training-job/ipi-20261105-abc"
CREATED = {"TrainingJobArn": ARN, "ResponseMetadata": {"HTTPStatusCode": 200}}


def _job(status, reason=None):
    doc = {
        "TrainingJobName": "ipi-20261105-abc",
        "TrainingJobArn": ARN,
        "TrainingJobStatus": status,
        "SecondaryStatus": "Training" if status == "InProgress" else status,
        "AlgorithmSpecification": {"TrainingInputMode": "File"},
        "ResourceConfig": {
            "InstanceType": "ml.m5.xlarge",
            "InstanceCount": 1,
            "VolumeSizeInGB": 30,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "CreationTime": datetime(2026, 11, 5),
        "ModelArtifacts": {"S3ModelArtifacts": "s3://b/models/sagemaker/ipi/output/model.tar.gz"},
    }
    if reason:
        doc["FailureReason"] = reason
    return doc


@pytest.fixture
def train_task(airflow_env):
    settings, _ = airflow_env
    bucket = settings.results_bucket_name
    config = _config("builtin")
    for channel in config["InputDataConfig"]:  # the manifests the hook checks exist
        source = channel["DataSource"]["S3DataSource"]
        source["S3Uri"] = source["S3Uri"].replace("s3://b/", f"s3://{bucket}/")
        key = source["S3Uri"].split(f"s3://{bucket}/", 1)[1]
        task_clients(settings)("s3").put_object(Bucket=bucket, Key=key, Body=b"[]")
    config["OutputDataConfig"]["S3OutputPath"] = f"s3://{bucket}/models/sagemaker"
    train = dag("lakewatch_train")
    task = train.get_task("train_sagemaker")
    # the connection is a template (resolved when the task runs): render it as Airflow would
    task.aws_conn_id = task.render_template(
        task.aws_conn_id, {}, jinja_env=train.get_template_env()
    )
    task.config = config
    task.print_log = False  # CloudWatch's log tail is the provider's, not lakewatch's, concern
    stub = Stubber(task.hook.conn)
    return task, stub


def test_training_creates_the_job_and_defers_then_resumes(train_task):
    task, stub = train_task
    stub.add_client_error("describe_training_job", "ValidationException", "not found")
    stub.add_response("create_training_job", CREATED)
    stub.add_response("describe_training_job", _job("InProgress"))
    stub.add_response("describe_training_job", _job("Completed"))
    with stub:
        with pytest.raises(TaskDeferred) as deferred:
            task.execute({})
        trigger = deferred.value.trigger
        assert trigger.__class__.__name__ == "SageMakerTrigger"
        assert deferred.value.method_name == "execute_complete"
        done = task.execute_complete({}, {"status": "success", "job_name": "ipi-20261105-abc"})
    assert done["Training"]["TrainingJobStatus"] == "Completed"
    assert task.config["TrainingJobName"] == "ipi-20261105-abc"  # free: no timestamp suffix
    stub.assert_no_pending_responses()


def test_a_failed_job_fails_the_task_with_its_reason(train_task):
    task, stub = train_task
    with pytest.raises(AirflowException, match="Error while running job"):
        task.execute_complete({}, {"status": "failed", "message": "ClientError: bad input"})
    stub.add_client_error("describe_training_job", "ValidationException", "not found")
    stub.add_response("create_training_job", CREATED)
    stub.add_response("describe_training_job", _job("Failed", "AlgorithmError: bad data"))
    with stub, pytest.raises(AirflowException, match="AlgorithmError: bad data"):
        task.execute({})
