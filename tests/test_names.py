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


def test_the_results_bucket_layout():
    from datetime import UTC, datetime

    day = date(2026, 11, 5)
    prefix = names.extract_day_prefix("extracts/", "2.0", "dns_answer+egress_peer", day)
    assert prefix == "extracts/source_version=2.0/pairs=dns_answer+egress_peer/day=2026-11-05/"
    assert names.extract_manifest_key(prefix) == f"{prefix}manifest.json"
    assert names.extract_attempt_prefix(prefix, "a1-t2") == f"{prefix}attempt=a1-t2/"
    assert names.model_record_key("models/", "ipi-1") == "models/registry/ipi-1.json"
    assert names.endpoint_state_key("models/", "ep") == "models/endpoints/ep.json"
    assert names.training_prefix("models/", "ipi-1") == "models/training/ipi-1/"
    assert names.threshold_night_prefix("t/", "2026-11-05") == "t/history/day=2026-11-05/"
    assert names.threshold_index_key("t/") == "t/history.json"
    assert names.threshold_work_prefix("t/", "2026-11-05") == "t/work/day=2026-11-05/"
    when = datetime(2026, 11, 5, 13, 4, 5, 6, tzinfo=UTC)
    assert names.feedback_key("f/", "labels", when, "u1") == (
        "f/labels/day=2026-11-05/130405000006-u1.json"
    )
    found = names.findings_object_key("ext/", "us-east-1", "111122223333", "20261105", "k", "m")
    assert found.startswith("ext/region=us-east-1/accountId=111122223333/eventDay=20261105/")
    assert found == names.findings_object_key(
        "ext/", "us-east-1", "111122223333", "20261105", "k", "m"
    )
    assert found != names.findings_object_key(
        "ext/", "us-east-1", "111122223333", "20261105", "k", "m2"
    )  # another model's findings of the same object are another file
    assert names.alert_marker_key("ext/", "uid1") == "ext/alerts/uid1"
    hour = datetime(2026, 11, 5, 3, tzinfo=UTC)
    assert names.rcf_hour_findings_key("ext/", "us-east-1", "111122223333", hour) == (
        "ext/region=us-east-1/accountId=111122223333/eventDay=20261105/rcf-hour-20261105T03.parquet"
    )
    assert names.canary_findings_prefix("canary/") == "canary/findings/"
    assert names.ground_truth_key("gt/", "2.0", "20261105") == (
        "gt/source_version=2.0/eventDay=20261105/labels.jsonl"
    )


def test_rcf_names():
    a = names.rcf_model_id(date(2026, 11, 27), {"rows": 1})
    assert a.startswith("rcf-20261127-") and a == names.rcf_model_id(
        date(2026, 11, 27), {"rows": 1}
    )
    assert a != names.rcf_model_id(date(2026, 11, 27), {"rows": 2})
    assert names.rcf_training_key("models/", a) == f"models/training/{a}/rcf/train.csv"
    assert names.rcf_training_key("models/", a, "features.json") == (
        f"models/training/{a}/features.json"
    )
    assert names.rcf_thresholds_prefix("thresholds/") == "thresholds/rcf/"
    assert names.rcf_threshold_parameter("/lakewatch/threshold") == "/lakewatch/threshold-rcf"
    assert names.endpoint_config_name("lakewatch-rcf", a).startswith("lakewatch-rcf-rcf-")


def test_an_rcf_model_is_served_on_the_rcf_endpoint():
    assert names.is_rcf_model("rcf-20261127-0123abcd") and not names.is_rcf_model("ipi-1")
    assert names.serving_endpoint("rcf-1", "ipi-ep", "") == names.RCF_ENDPOINT
    assert names.serving_endpoint("rcf-1", "ipi-ep", "rcf-ep") == "rcf-ep"
    assert names.serving_endpoint("ipi-1", "ipi-ep", "rcf-ep") == "ipi-ep"
