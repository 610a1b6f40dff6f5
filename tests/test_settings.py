import pytest
from pydantic import ValidationError

from lakewatch.settings import Settings


def test_defaults_follow_security_lake_names():
    s = Settings(_env_file=None)
    assert s.backend == "local"
    assert s.lake_bucket_name == "aws-security-data-lake-us-east-1-lakewatchlocal"
    assert s.results_bucket_name == "lakewatch-results-123456789012-us-east-1"
    assert s.resolved_endpoint_url == "http://127.0.0.1:5055"


def test_environment_configures(monkeypatch):
    monkeypatch.setenv("LAKEWATCH_BACKEND", "aws")
    monkeypatch.setenv("LAKEWATCH_REGION", "eu-west-2")
    s = Settings()
    assert s.backend == "aws"
    assert s.resolved_endpoint_url is None  # real AWS endpoints
    assert s.lake_bucket_name.startswith("aws-security-data-lake-eu-west-2-")


def test_overrides_beat_environment(monkeypatch):
    monkeypatch.setenv("LAKEWATCH_REGION", "eu-west-2")
    assert Settings(region="ap-south-1").region == "ap-south-1"


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("backend", "gcp", "backend"),
        ("region", "mars-1", "not an AWS region"),
        ("account_id", "12", "account_id"),
        ("emulator_port", 0, "emulator_port"),
    ],
)
def test_bad_values_name_the_field(field, value, fragment):
    with pytest.raises(ValidationError) as err:
        Settings(**{field: value})
    assert fragment in str(err.value)


def test_unknown_setting_is_rejected():
    with pytest.raises(ValidationError, match="lake_bukket"):
        Settings(lake_bukket="x")


def test_prefixes_are_normalised():
    assert Settings(extracts_prefix="/a/b").extracts_prefix == "a/b/"
