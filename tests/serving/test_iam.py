"""serving.iam: the shipped policies are least privilege and name this deployment's resources; the
SAM template passes cfn-lint."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lakewatch.serving.iam import POLICIES, policy_document, render
from lakewatch.settings import Settings
from tests.conftest import REPO

# actions IAM supports only on "*" (no resource-level permissions)
RESOURCELESS = {
    "ecr:GetAuthorizationToken",
    "lakeformation:GetDataAccess",
    "lambda:ListEventSourceMappings",
    "lambda:ListLayerVersions",
}


def _listed(value):
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_shipped_policies_are_least_privilege(name):
    shipped = {p.relative_to(REPO) for p in REPO.glob("include/**/*policy*.json")}
    assert shipped == {p.relative_to(REPO) for p in POLICIES.values()}  # every one is checked
    doc = render(POLICIES[name], Settings())
    assert "${" not in json.dumps(doc)  # every placeholder filled
    for st in doc["Statement"]:
        actions, resources = _listed(st["Action"]), _listed(st["Resource"])
        # no "*" actions, no whole-service wildcards, on anything
        assert not any(a == "*" or a.endswith(":*") for a in actions), st["Sid"]
        if "*" in resources:  # only narrowed by a condition, or where IAM allows nothing else
            assert "Condition" in st or set(actions) <= RESOURCELESS, st["Sid"]
        for r in resources:
            assert r == "*" or not r.endswith(":*:*"), r
            assert r == "*" or r.startswith("arn:aws:"), r


def test_scorer_policy_names_this_deployment():
    text = json.dumps(policy_document(Settings()))
    s = Settings()
    assert f"arn:aws:s3:::{s.lake_bucket_name}/aws/VPC_FLOW/*" in text
    assert f"parameter{s.threshold_parameter}" in text
    assert f":endpoint/{s.endpoint_name}" in text


def test_sam_template_passes_cfn_lint():
    template = REPO / "include" / "lambda" / "ipcheck" / "template.yaml"
    cfn_lint = str(Path(sys.executable).parent / "cfn-lint")
    out = subprocess.run([cfn_lint, str(template)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_scorer_may_put_events_only_on_the_step_up_bus():
    s = Settings(step_up_event_bus="my-step-up")
    [st] = [st for st in policy_document(s)["Statement"] if "events:PutEvents" in st["Action"]]
    assert st["Action"] == ["events:PutEvents"]
    assert st["Resource"] == "arn:aws:events:us-east-1:123456789012:event-bus/my-step-up"
    text = json.dumps(policy_document(s))
    assert text.count('"events:') == 1  # no other EventBridge action
    assert f"arn:aws:s3:::{s.lake_bucket_name}/aws/CLOUD_TRAIL_MGMT/*" in text  # sign-ins read
    off = policy_document(Settings(step_up_event_bus=""))
    assert not [st for st in off["Statement"] if st["Sid"] == "PutStepUpEvents"]


def test_the_scorer_may_read_the_rcf_threshold_and_endpoint_only_when_it_has_one():
    off = policy_document(Settings())
    assert not {"ReadRcfThreshold", "ScoreWithTheRcfEndpoint"} & {
        st["Sid"] for st in off["Statement"]
    }
    on = policy_document(Settings(rcf_endpoint_name="lakewatch-rcf"))
    by_sid = {st["Sid"]: st for st in on["Statement"]}
    assert by_sid["ScoreWithTheRcfEndpoint"]["Resource"] == (
        "arn:aws:sagemaker:us-east-1:123456789012:endpoint/lakewatch-rcf"
    )
    assert by_sid["ReadRcfThreshold"]["Resource"] == (
        "arn:aws:ssm:us-east-1:123456789012:parameter/lakewatch/threshold-rcf"
    )
    assert by_sid["ReadRcfThreshold"]["Action"] == ["ssm:GetParameter"]
