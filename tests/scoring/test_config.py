"""scoring.config: the scorer's configuration survives the trip through a function's
environment, reads that environment and no other, and a bad one names its variable."""

import pytest

from lakewatch.scoring.config import ScorerConfig

REQUIRED = {
    "LAKEWATCH_ENDPOINT_NAME": "ep",
    "LAKEWATCH_THRESHOLD_PARAMETER": "/lakewatch/threshold",
    "LAKEWATCH_RESULTS_BUCKET": "results",
}


def test_the_environment_round_trip_keeps_every_field():
    config = ScorerConfig(
        endpoint_name="ep",
        threshold_parameter="/t",
        results_bucket="b",
        lake_bucket="aws-security-data-lake-eu-west-1-x",
        region="eu-west-1",
        pairs="egress_peer",
        findings_prefix="f/",
        feedback_prefix="fb/",
        models_prefix="detectors/",
        canary_prefix="c/",
        dlq_url="https://sqs/dlq",
        topic_arn="arn:aws:sns:eu-west-1:123456789012:t",
        threshold_ttl_s=5.0,
        max_receive_count=4,
        memory_budget_mb=900,
        security_hub_findings=True,
        account_id="123456789012",
        step_up_event_bus="lakewatch-step-up",
    )
    env = config.to_env()
    assert env["LAKEWATCH_STEP_UP_EVENT_BUS"] == "lakewatch-step-up"
    assert env["LAKEWATCH_LAKE_BUCKET"] == config.lake_bucket  # the name Settings reads
    assert env["LAKEWATCH_FINDINGS_TOPIC_ARN"] == config.topic_arn
    assert env["LAKEWATCH_MODELS_PREFIX"] == "detectors/"
    assert ScorerConfig.from_env(env) == config


def test_unset_values_are_left_out_and_read_back_as_defaults():
    config = ScorerConfig.from_env({**REQUIRED, "LAKEWATCH_DLQ_URL": ""})
    assert config.dlq_url == "" and config.max_receive_count == 0
    assert config.models_prefix == "models/" and config.threshold_ttl_s == 60.0
    assert "LAKEWATCH_DLQ_URL" not in config.to_env()
    assert "LAKEWATCH_MAX_RECEIVE_COUNT" not in config.to_env()


def test_only_the_given_environment_is_read(monkeypatch):
    monkeypatch.setenv("LAKEWATCH_FINDINGS_TOPIC_ARN", "arn:aws:sns:us-east-1:1:process")
    monkeypatch.setenv("LAKEWATCH_ENDPOINT_NAME", "from-the-process")
    assert ScorerConfig.from_env(REQUIRED).topic_arn == ""
    with pytest.raises(ValueError, match="missing LAKEWATCH_ENDPOINT_NAME"):
        ScorerConfig.from_env(
            {"LAKEWATCH_RESULTS_BUCKET": "b", "LAKEWATCH_THRESHOLD_PARAMETER": "/t"}
        )


def test_missing_values_are_named_by_their_variables():
    with pytest.raises(ValueError) as err:
        ScorerConfig.from_env({"LAKEWATCH_RESULTS_BUCKET": "b"})
    assert str(err.value) == (
        "scorer configuration is missing LAKEWATCH_ENDPOINT_NAME, LAKEWATCH_THRESHOLD_PARAMETER"
    )


@pytest.mark.parametrize(
    ("var", "value", "message"),
    [
        (
            "LAKEWATCH_MAX_RECEIVE_COUNT",
            "three",
            "LAKEWATCH_MAX_RECEIVE_COUNT='three' is not a number",
        ),
        ("LAKEWATCH_THRESHOLD_TTL_S", "1m", "LAKEWATCH_THRESHOLD_TTL_S='1m' is not a number"),
        ("LAKEWATCH_MAX_RECEIVE_COUNT", "-1", "LAKEWATCH_MAX_RECEIVE_COUNT='-1': Input should be"),
    ],
)
def test_a_bad_number_is_named_by_its_variable(var, value, message):
    with pytest.raises(ValueError, match=message):
        ScorerConfig.from_env({**REQUIRED, var: value})


def test_the_last_attempt_is_the_queues_receive_limit():
    limited = ScorerConfig.from_env({**REQUIRED, "LAKEWATCH_MAX_RECEIVE_COUNT": "3"})
    assert not limited.last_attempt(2) and limited.last_attempt(3)
    assert not ScorerConfig.from_env(REQUIRED).last_attempt(100)  # 0: the queue decides


def test_the_process_module_still_exports_it():
    from lakewatch.scoring.process import ScorerConfig as exported

    assert exported is ScorerConfig


def test_the_memory_budget_defaults_to_a_share_of_the_functions_memory():
    from lakewatch.scoring.config import BUDGET_SHARE

    lambda_env = {**REQUIRED, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "2048"}
    assert ScorerConfig.from_env(lambda_env).memory_budget_mb == int(2048 * BUDGET_SHARE)
    given = {**lambda_env, "LAKEWATCH_MEMORY_BUDGET_MB": "700"}
    assert ScorerConfig.from_env(given).memory_budget_mb == 700
    assert ScorerConfig.from_env(REQUIRED).memory_budget_mb == 0  # no budget outside Lambda


def test_built_from_keywords_it_reads_no_environment(monkeypatch):
    """A deploy's own shell never reaches the function's configuration."""
    monkeypatch.setenv("LAKEWATCH_MEMORY_BUDGET_MB", "5")
    monkeypatch.setenv("LAKEWATCH_FINDINGS_PREFIX", "elsewhere/")
    config = ScorerConfig(endpoint_name="e", threshold_parameter="/t", results_bucket="b")
    assert (config.memory_budget_mb, config.findings_prefix) == (0, "ext/lakewatch/")


def test_without_a_region_variable_the_function_uses_the_region_it_runs_in():
    env = {**REQUIRED, "AWS_REGION": "eu-west-1"}
    assert ScorerConfig.from_env(env).region == "eu-west-1"
    assert ScorerConfig.from_env({**env, "LAKEWATCH_REGION": "eu-north-1"}).region == "eu-north-1"


def test_security_hub_is_off_unless_the_environment_turns_it_on():
    assert not ScorerConfig.from_env(REQUIRED).security_hub_findings
    on = ScorerConfig.from_env({**REQUIRED, "LAKEWATCH_SECURITY_HUB_FINDINGS": "true"})
    assert on.security_hub_findings and on.account_id == ""  # "": the function's own (STS)
    with pytest.raises(ValueError, match="LAKEWATCH_ACCOUNT_ID='12'"):
        ScorerConfig.from_env({**REQUIRED, "LAKEWATCH_ACCOUNT_ID": "12"})


def test_step_up_events_are_off_unless_the_environment_names_a_bus():
    assert ScorerConfig.from_env(REQUIRED).step_up_event_bus == ""
    on = ScorerConfig.from_env({**REQUIRED, "LAKEWATCH_STEP_UP_EVENT_BUS": "my-bus"})
    assert on.step_up_event_bus == "my-bus"
    with pytest.raises(ValueError, match="LAKEWATCH_STEP_UP_EVENT_BUS"):
        ScorerConfig.from_env({**REQUIRED, "LAKEWATCH_STEP_UP_EVENT_BUS": "no spaces"})
