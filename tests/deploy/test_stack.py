"""deploy/lakewatch.yaml: lints clean, constrains every parameter, grants exactly the shipped
policies, describes the table the scorer writes, and, created in the emulator, passes
lakewatch's own checks (``serving.aws_check``).

moto's CloudFormation does not support every type the stack uses. The emulator run removes
``MOTO_CANNOT`` (and what refers to them) and stands in for them the way lakewatch would meet
them on AWS: the bucket's public access block, lifecycle and TLS-only policy are put through
the S3 API from the template's own properties; the Glue database and table are made by
``lakewatch findings table`` (``serving.findings_table``), then compared with the template's;
the Security Lake subscriber's queue is a queue the test makes with a redrive policy, as
Security Lake does; the alias is dropped and the mapping points at the function itself. The
alarms and the e-mail subscription are checked as text only; moto does not check
``AllowedPattern`` either, so the patterns are tested here with Python's ``re`` (CloudFormation
rejects a value that does not match, naming the parameter).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from lakewatch.scoring.config import ScorerConfig
from lakewatch.serving import findings_table
from lakewatch.serving.aws_check import check
from lakewatch.serving.iam import POLICIES, render
from lakewatch.settings import Settings
from tests.deploy.stack import TEMPLATE, Resolver, load

MOTO_CANNOT = {
    "AWS::S3::BucketPolicy",
    "AWS::SNS::Subscription",
    "AWS::SecurityLake::Subscriber",
    "AWS::SecurityLake::SubscriberNotification",
    "AWS::Glue::Database",
    "AWS::Glue::Table",
    "AWS::CloudWatch::Alarm",
    "AWS::Lambda::Alias",
}
# the values an organisation must give: everything else has a default
REQUIRED = {
    "LakeBucket",
    "LakeAccounts",
    "SubscriberExternalId",
    "ArtifactsBucket",
    "ArtifactsPrefix",
}
# statements the stack adds to the shipped policies, and why
STACK_ONLY = {"ReadTheScorersArtifacts": "the scorer's zips sit in a bucket made before the stack"}


def test_the_stack_passes_cfn_lint():
    cfn_lint = str(Path(sys.executable).parent / "cfn-lint")
    out = subprocess.run([cfn_lint, str(TEMPLATE)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_every_parameter_is_constrained_and_only_the_organisations_are_required():
    params = load()["Parameters"]
    assert {k for k, p in params.items() if "Default" not in p} == REQUIRED
    for name, p in params.items():
        if p["Type"] == "Number":
            assert "MinValue" in p and "MaxValue" in p, name
        else:
            assert "AllowedPattern" in p or "AllowedValues" in p, name
        if "AllowedPattern" in p and "Default" in p:
            assert re.fullmatch(p["AllowedPattern"], p["Default"]), name


@pytest.mark.parametrize(
    ("name", "good", "bad"),
    [
        ("LakeAccounts", "111122223333,444455556666", "111122223333, 444455556666"),
        ("LakeAccounts", "111122223333", "1111"),
        ("LakeBucket", "aws-security-data-lake-us-east-1-abc123", "my-lake"),
        ("LakeRegions", "us-east-1,eu-west-1", "us-east-1 eu-west-1"),
        ("ArtifactsPrefix", "lakewatch/scorer/1/", "lakewatch/scorer/1"),
        ("StepUpBusName", "lakewatch-step-up", "default"),
        ("FindingsSince", "20260101", "2026-01-01"),
        ("ThresholdParameterName", "/lakewatch/threshold", "lakewatch/threshold"),
        ("AlertEmail", "oncall@example.com", "oncall"),
    ],
)
def test_a_malformed_parameter_does_not_match(name, good, bad):
    pattern = load()["Parameters"][name]["AllowedPattern"]
    assert re.fullmatch(pattern, good) and not re.fullmatch(pattern, bad)


def _arn(service: str, name: str) -> str:
    return f"arn:aws:{service}:us-east-1:123456789012:{name}"


def _defaults_resolver(settings: Settings) -> Resolver:
    """The template resolved for lakewatch's default settings."""
    role = "arn:aws:iam::123456789012:role/"
    attributes = {
        "ResultsBucket": {"Ref": settings.results_bucket_name},
        "ScorerDlq": {"Ref": "url", "Arn": _arn("sqs", settings.dlq_name)},
        "FindingsTopic": {"Ref": _arn("sns", "lakewatch-findings")},
        "AlertsTopic": {"Ref": settings.alerts_topic},
        "SageMakerRole": {"Arn": f"{role}lakewatch-sagemaker"},
        "ScorerRole": {"Arn": f"{role}lakewatch-scorer"},
    }
    values = {
        "AWS::Partition": "aws",
        "AWS::Region": settings.region,
        "AWS::AccountId": settings.account_id,
        "LakeBucket": settings.lake_bucket_name,
        "SubscriberQueueName": settings.queue_name,
        "ArtifactsBucket": "artifacts",
        "ArtifactsPrefix": "scorer/",
    }
    return Resolver(load(), values, attributes)


def _statements(doc) -> dict[str, dict]:
    def listed(v):
        return sorted(v if isinstance(v, list) else [v])

    return {
        st["Sid"]: {
            "Effect": st["Effect"],
            "Action": listed(st["Action"]),
            "Resource": listed(st["Resource"]),
            "Condition": st.get("Condition"),
        }
        for st in doc["Statement"]
    }


@pytest.mark.parametrize(
    ("policy", "resource", "path"),
    [
        ("scorer-lambda", "ScorerRole", ("Policies", 0, "PolicyDocument")),
        ("sagemaker-execution", "SageMakerRole", ("Policies", 0, "PolicyDocument")),
        ("airflow-worker", "AirflowWorkerPolicy", ("PolicyDocument",)),
    ],
)
def test_the_stacks_policies_are_the_shipped_ones(policy, resource, path):
    """One least-privilege policy each, whether deployed by the stack or by hand."""
    settings = Settings()
    node = load()["Resources"][resource]["Properties"]
    for step in path:
        node = node[step]
    stack = _statements(_defaults_resolver(settings)(node))
    shipped = _statements(render(POLICIES[policy], settings))
    for sid in STACK_ONLY:
        stack.pop(sid, None)
    assert stack == shipped


def test_the_scorers_rcf_grants_are_the_shipped_ones_when_it_has_an_rcf_endpoint():
    """With RcfEndpointName the stack grants what the shipped policy grants for
    ``rcf_endpoint_name``: the RCF threshold parameter and endpoint, nothing more."""
    settings = Settings(rcf_endpoint_name="lakewatch-rcf")
    resolver = _defaults_resolver(settings)
    resolver.values["RcfEndpointName"] = "lakewatch-rcf"
    node = load()["Resources"]["ScorerRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    stack = _statements(resolver(node))
    shipped = _statements(render(POLICIES["scorer-lambda"], settings))
    for sid in STACK_ONLY:
        stack.pop(sid, None)
    assert {"ReadRcfThreshold", "ScoreWithTheRcfEndpoint"} <= set(stack)
    assert stack == shipped


def test_the_workers_rcf_grants_name_the_rcf_endpoint_or_its_default():
    """The RCF DAGs train and deploy on RcfEndpointName, else ``lakewatch-rcf`` (as
    ``names.serving_endpoint`` names it): the stack and the shipped policy grant the same."""
    node = load()["Resources"]["AirflowWorkerPolicy"]["Properties"]["PolicyDocument"]
    for name in ("", "team-rcf"):
        settings = Settings(rcf_endpoint_name=name)
        resolver = _defaults_resolver(settings)
        resolver.values["RcfEndpointName"] = name
        stack = _statements(resolver(node))
        shipped = _statements(render(POLICIES["airflow-worker"], settings))
        for sid in STACK_ONLY:
            stack.pop(sid, None)
        assert stack == shipped
        endpoint = f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{name or 'lakewatch-rcf'}"
        assert endpoint in stack["TrainDeployAndScoreRcf"]["Resource"]
        assert {"PublishTheRcfThreshold", "AlertRcfHourFindings"} <= set(stack)


def test_the_scorers_environment_is_what_the_scorer_reads():
    env = load()["Resources"]["ScorerFunction"]["Properties"]["Environment"]["Variables"]
    known = set(ScorerConfig.variables().values())
    assert {k for k in env if k.startswith("LAKEWATCH_")} <= known


def test_the_stacks_table_has_the_scorers_columns():
    table = load()["Resources"]["FindingsGlueTable"]["Properties"]["TableInput"]
    cols = {c["Name"]: c["Type"] for c in table["StorageDescriptor"]["Columns"]}
    assert cols == findings_table.columns()
    assert {c["Name"]: c["Type"] for c in table["PartitionKeys"]} == findings_table.PARTITIONS


# the stack in the emulator ----------------------------------------------------------------


def _refers_to(node, names: set[str]) -> bool:
    text = json.dumps(node)
    return any(
        re.search(rf'"(Ref|Fn::GetAtt)": (\["|"){n}[".]|\$\{{{n}[.}}]|"DependsOn": "{n}"', text)
        for n in names
    )


def _for_moto(template: dict) -> dict:
    """The template less what moto cannot create and what refers to it; the mapping on the
    function (no alias in moto)."""
    res = dict(template["Resources"])
    mapping = res["ScorerQueueMapping"]["Properties"]
    mapping["FunctionName"] = {"Ref": "ScorerFunction"}
    gone = {k for k, r in res.items() if r["Type"] in MOTO_CANNOT}
    while True:
        more = {k for k, r in res.items() if k not in gone and _refers_to(r, gone)}
        if not more:
            break
        gone |= more
    outputs = {k: o for k, o in template["Outputs"].items() if not _refers_to(o, gone)}
    kept = {k: r for k, r in res.items() if k not in gone}
    return {**template, "Resources": kept, "Outputs": outputs}


def _lifecycle(rules: list[dict]) -> list[dict]:
    """The template's lifecycle rules in the S3 API's words."""
    out = []
    for r in rules:
        rule = {"ID": r["Id"], "Status": r["Status"], "Filter": {"Prefix": r.get("Prefix", "")}}
        if "ExpirationInDays" in r:
            rule["Expiration"] = {"Days": int(r["ExpirationInDays"])}
        if "Transitions" in r:
            rule["Transitions"] = [
                {"Days": int(t["TransitionInDays"]), "StorageClass": t["StorageClass"]}
                for t in r["Transitions"]
            ]
        if "AbortIncompleteMultipartUpload" in r:
            rule["AbortIncompleteMultipartUpload"] = r["AbortIncompleteMultipartUpload"]
        out.append(rule)
    return out


def _stand_ins(resolver: Resolver, s3, bucket: str) -> None:
    """What moto's CloudFormation ignores on the bucket, from the template's own values."""
    props = resolver(resolver.template["Resources"]["ResultsBucket"]["Properties"])
    s3.put_public_access_block(
        Bucket=bucket, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
    )
    rules = _lifecycle(props["LifecycleConfiguration"]["Rules"])
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    policy = resolver(resolver.template["Resources"]["ResultsBucketPolicy"]["Properties"])
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy["PolicyDocument"]))


@pytest.fixture(scope="module")
def cfn_clients(emulator_settings):
    """The emulator's clients with CloudFormation and Lambda too (lakewatch emulates neither
    elsewhere)."""
    from lakewatch.aws.clients import Boto3Clients

    url = emulator_settings.resolved_endpoint_url
    return Boto3Clients(
        emulator_settings, endpoint_overrides={"cloudformation": url, "lambda": url}
    )


@pytest.fixture
def deployed(emulator_settings, cfn_clients):
    """The stack created in the emulator with this test's names; its outputs."""
    tag = uuid.uuid4().hex[:8]
    clients = cfn_clients
    s3, sqs = clients("s3"), clients("sqs")
    s3.create_bucket(Bucket=f"artifacts-{tag}")
    for name in ("function.zip", "layer.zip"):
        s3.put_object(
            Bucket=f"artifacts-{tag}", Key=f"scorer/{tag}/{name}", Body=b"PK\x05\x06" + bytes(18)
        )
    sl_dlq = sqs.create_queue(QueueName=f"AmazonSecurityLake-{tag}-DLQ")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=sl_dlq, AttributeNames=["QueueArn"])
    redrive = {"deadLetterTargetArn": dlq_arn["Attributes"]["QueueArn"], "maxReceiveCount": "3"}
    sqs.create_queue(  # Security Lake makes the subscriber's queue, with its own DLQ
        QueueName=f"AmazonSecurityLake-{tag}-Main-Queue",
        Attributes={"RedrivePolicy": json.dumps(redrive), "VisibilityTimeout": "300"},
    )
    values = {
        "LakeBucket": f"aws-security-data-lake-us-east-1-t{tag}",
        "LakeAccounts": "111122223333,444455556666",
        "SubscriberExternalId": f"lakewatch-{tag}",
        "ArtifactsBucket": f"artifacts-{tag}",
        "ArtifactsPrefix": f"scorer/{tag}/",
        "CreateSubscriber": "false",
        "SubscriberQueueName": f"AmazonSecurityLake-{tag}-Main-Queue",
        "ResultsBucketName": f"lakewatch-results-{tag}",
        "EndpointName": f"lw-{tag}",
        "ThresholdParameterName": f"/lakewatch/{tag}/threshold",
        "DlqName": f"lakewatch-dlq-{tag}",
        "AlertsTopicName": f"lakewatch-alerts-{tag}",
        "FindingsTopicName": f"lakewatch-findings-{tag}",
        "StepUpBusName": f"lakewatch-step-up-{tag}",
        "FindingsDatabase": f"lakewatch_{tag}",
    }
    cfn = clients("cloudformation")
    stack = f"lakewatch-{tag}"
    cfn.create_stack(
        StackName=stack,
        TemplateBody=json.dumps(_for_moto(load())),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    [described] = cfn.describe_stacks(StackName=stack)["Stacks"]
    assert described["StackStatus"] == "CREATE_COMPLETE", described.get("StackStatusReason")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    bucket = outputs["ResultsBucket"]
    resolver = Resolver(
        load(),
        {**values, "AWS::Partition": "aws", "AWS::Region": "us-east-1"},
        {"ResultsBucket": {"Ref": bucket, "Arn": f"arn:aws:s3:::{bucket}"}},
    )
    _stand_ins(resolver, s3, bucket)
    return values, outputs, resolver


def _settings_from(emulator_settings: Settings, values, outputs) -> Settings:
    """The settings a team sets from the stack's outputs (docs/deploy-aws.md)."""
    return emulator_settings.model_copy(
        update={
            "results_bucket": outputs["ResultsBucket"],
            "lake_bucket": values["LakeBucket"],
            "queue_name": values["SubscriberQueueName"],
            "dlq_name": outputs["DlqName"],
            "threshold_parameter": outputs["ThresholdParameter"],
            "alerts_topic_arn": outputs["AlertsTopicArn"],
            "findings_topic_arn": outputs["FindingsTopicArn"],
            "sagemaker_role_arn": outputs["SageMakerRoleArn"],
            "lambda_role_arn": outputs["ScorerRoleArn"],
            "endpoint_name": values["EndpointName"],
            "findings_database": values["FindingsDatabase"],
        }
    )


def test_the_stack_in_the_emulator_passes_lakewatchs_checks(deployed, emulator_settings, clients):
    values, outputs, resolver = deployed
    settings = _settings_from(emulator_settings, values, outputs)
    projection = findings_table.Projection(
        accounts=tuple(values["LakeAccounts"].split(",")), regions=("us-east-1",)
    )
    assert findings_table.ensure(settings, clients, projection).action == "created"
    failed = [c for c in check(settings, clients) if not c.ok]
    assert failed == []
    # the table lakewatch makes is the stack's, projection and all
    table = clients("glue").get_table(
        DatabaseName=settings.findings_database, Name="lakewatch_findings"
    )
    made = {
        k: v
        for k, v in table["Table"]["Parameters"].items()
        if k.startswith(("projection.", "storage."))
    }
    stack_table = resolver(load()["Resources"]["FindingsGlueTable"]["Properties"]["TableInput"])
    wanted = {
        k: v
        for k, v in stack_table["Parameters"].items()
        if k.startswith(("projection.", "storage."))
    }
    assert made == wanted


def test_the_stacks_scorer_is_mapped_off_until_turned_on(deployed, cfn_clients):
    clients = cfn_clients
    values, outputs, _ = deployed
    lam = clients("lambda")
    function = lam.get_function(FunctionName=f"{values['EndpointName']}-scorer")["Configuration"]
    assert function["Runtime"] == "python3.12" and function["Handler"] == "app.lambda_handler"
    assert function["Role"] == outputs["ScorerRoleArn"]
    env = function["Environment"]["Variables"]
    assert env["LAKEWATCH_RESULTS_BUCKET"] == outputs["ResultsBucket"]
    assert env["LAKEWATCH_THRESHOLD_PARAMETER"] == outputs["ThresholdParameter"]
    # moto's CloudFormation drops a function's Layers and names a layer as it likes: the
    # stack's layer is checked to exist
    stack = f"lakewatch-{values['EndpointName'].removeprefix('lw-')}-ScorerDependencies"
    assert any(e["LayerName"].startswith(stack) for e in lam.list_layers()["Layers"])
    queue_arn = f"arn:aws:sqs:us-east-1:123456789012:{values['SubscriberQueueName']}"
    [mapping] = lam.list_event_source_mappings(EventSourceArn=queue_arn)["EventSourceMappings"]
    assert mapping["State"] in ("Disabled", "Disabling")
    ssm = clients("ssm")
    from lakewatch.threshold.publish import read_published

    assert read_published(ssm, outputs["ThresholdParameter"]) is None  # nothing published yet
