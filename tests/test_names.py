"""names: every resource name is a pure function of the run, within SageMaker's rules, so a
rerun finds what the first try created."""

import re
from datetime import date

from lakewatch import names

_SAGEMAKER = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")


def test_a_model_id_is_the_window_end_and_a_hash_of_its_inputs():
    inputs = {"hp": {"vector_dim": 128}, "parts": ["a", "b"]}
    first = names.model_id(date(2026, 11, 27), inputs)
    assert re.fullmatch(r"ipi-20261127-[0-9a-f]{8}", first)
    assert names.model_id(date(2026, 11, 27), dict(reversed(list(inputs.items())))) == first
    assert names.model_id(date(2026, 11, 27), {**inputs, "parts": ["a"]}) != first
    assert names.model_id(date(2026, 11, 28), inputs) != first


def test_long_or_odd_names_are_cut_to_sagemakers_rule_and_stay_distinct():
    long_a = names.sagemaker_name("lakewatch_ipinsights", "x" * 80, "a")
    long_b = names.sagemaker_name("lakewatch_ipinsights", "x" * 80, "b")
    for name in (long_a, long_b, names.sagemaker_name("--a b__c--", "", "d")):
        assert len(name) <= 63 and _SAGEMAKER.match(name), name
    assert long_a != long_b
    assert names.sagemaker_name("--a b__c--", "", "d") == "a-b-c---d"  # hyphen runs are legal


def test_retries_and_derived_resources_get_their_own_deterministic_names():
    model = "ipi-20261127-0123abcd"
    assert names.training_job_name(model) == model
    assert names.training_job_name(model, 3) == f"{model}-r3"
    assert names.endpoint_config_name("lakewatch-ipinsights", model) == (
        "lakewatch-ipinsights-20261127-0123abcd"
    )
    assert names.lambda_function_name("lakewatch-ipinsights") == "lakewatch-ipinsights-scorer"


def test_keys_are_content_addressed_or_per_model():
    assert names.scorer_package_key("ab" * 32) == f"scorer/packages/{'ab' * 8}.zip"
    assert names.artifact_key("models/", "ipi-1") == "models/artifacts/ipi-1/model.tar.gz"
    assert names.artifact_key("models/", "ipi-1", "detector.safetensors").endswith(
        "ipi-1/detector.safetensors"
    )
    assert names.digest([1, 2]) == names.digest([1, 2]) != names.digest([2, 1])
