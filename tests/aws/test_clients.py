"""aws.clients: emulated services go to the emulator and everything else to AWS, overrides win,
clients are cached, and emulator credentials never fall through to a real profile."""

import pyarrow.fs as pafs
import pytest

from lakewatch.aws.clients import (
    EMULATED_SERVICES,
    Boto3Clients,
    arrow_s3,
    lambda_clients,
    require,
)
from lakewatch.model.data import read_pairs


def test_emulated_services_reach_the_emulator_and_others_aws(emulator_settings):
    clients = Boto3Clients(emulator_settings, endpoint_overrides={"lambda": "http://127.0.0.1:9"})
    url = emulator_settings.resolved_endpoint_url
    for service in EMULATED_SERVICES:
        assert clients.endpoint_url(service) == url
    assert clients.endpoint_url("lambda") == "http://127.0.0.1:9"
    assert clients.endpoint_url("athena") is None
    assert clients("s3") is clients("s3")
    assert clients("s3").meta.endpoint_url == url


def test_emulator_credentials_are_fixed_unless_the_environment_has_some(
    emulator_settings, monkeypatch
):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    clients = Boto3Clients(emulator_settings, emulator_credentials=True)
    assert clients.credentials() == ("testing", "testing", None)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    assert Boto3Clients(emulator_settings, emulator_credentials=True).credentials()[0] == "AKIAENV"


def test_arrow_reads_what_boto3_wrote_through_the_same_endpoint(aws, clients):
    settings, _ = aws
    clients("s3").put_object(Bucket=settings.results_bucket_name, Key="probe.txt", Body=b"hello")
    fs = arrow_s3(clients, settings.region)
    info = fs.get_file_info(f"{settings.results_bucket_name}/probe.txt")
    assert info.type == pafs.FileType.File and info.size == 5
    with fs.open_input_stream(f"{settings.results_bucket_name}/probe.txt") as f:
        assert f.read() == b"hello"


def test_an_s3_location_without_clients_is_a_clear_error():
    assert require(print, "s3://b/k") is print
    with pytest.raises(ValueError, match=r"s3://b/train/ is on S3: .* needs AWS clients"):
        read_pairs("s3://b/train/")


def test_the_functions_clients_route_like_the_runtime_and_retry_like_lakewatch():
    """The scorer function's clients: the emulator for AWS's services and the model server
    for SageMaker's runtime when the local runtime names them, AWS's own otherwise; with the
    same standard retries as every other lakewatch client."""
    local = lambda_clients("http://127.0.0.1:9", "eu-west-1", "http://127.0.0.1:8")
    assert local.endpoint_url("s3") == local.endpoint_url("sqs") == "http://127.0.0.1:9"
    assert local.endpoint_url("sagemaker-runtime") == "http://127.0.0.1:8"
    in_lambda = lambda_clients("", "eu-west-1", "")
    assert in_lambda.endpoint_url("s3") is None
    assert in_lambda.endpoint_url("sagemaker-runtime") is None
    s3 = in_lambda("s3")
    assert s3 is in_lambda("s3") and s3.meta.region_name == "eu-west-1"
    assert s3.meta.config.retries == {"mode": "standard", "total_max_attempts": 6}
    assert s3.meta.config.connect_timeout == 5
