import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import grimp
import pytest

from lakewatch.aws.clients import Boto3Clients
from lakewatch.local.functions import install_local
from lakewatch.scoring.process import ScorerConfig
from lakewatch.serving.iam import POLICIES, policy_document, render
from lakewatch.serving.lambda_deploy import ALIAS, deploy_lambda
from lakewatch.serving.scorer_package import HANDLER_MODULES, build
from lakewatch.settings import Settings
from tests.conftest import REPO


def test_package_is_deterministic_and_complete():
    a, b = build(), build()
    assert a.body == b.body and a.sha256 == b.sha256
    names = zipfile.ZipFile(io.BytesIO(a.body)).namelist()
    assert names == sorted(names) and "app.py" in names
    for needed in (
        "lakewatch/scoring/process.py",
        "lakewatch/extract/views.py",
        "lakewatch/extract/sql/pairs.sql",
        "lakewatch/extract/sql/views/egress_peer.sql",
    ):
        assert needed in names, needed
    assert not any("__pycache__" in n or n.startswith("tests/") for n in names)


def test_the_function_holds_exactly_the_modules_the_handler_imports():
    """The allowlist is closed under the handler's imports (nothing it needs is left out)
    and holds nothing more (no training, demo, CLI or synthetic lake in the function)."""
    graph = grimp.build_graph("lakewatch")
    wanted, todo = set(), ["lakewatch.scoring.process", "lakewatch.scoring.errors"]
    while todo:
        module = todo.pop()
        if module not in wanted:
            wanted.add(module)
            todo.extend(graph.find_modules_directly_imported_by(module))
    assert {m.removeprefix("lakewatch.") for m in wanted} - {"lakewatch"} == set(HANDLER_MODULES)
    names = zipfile.ZipFile(io.BytesIO(build().body)).namelist()
    for absent in ("lakewatch/cli/", "lakewatch/demo/", "lakewatch/training/", "synthetic"):
        assert not any(absent in n for n in names), absent


def _run_installed(tmp_path, code: str) -> str:
    """Run ``code`` in the unpacked zip's folder with only its files on the path."""
    app_dir = install_local(build(), tmp_path)
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=app_dir,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(app_dir), "PATH": "/usr/bin", "LAKEWATCH_LOCAL": "1"},
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().replace(str(app_dir), "APP")


def test_the_installed_function_imports_from_its_own_files(tmp_path):
    """The handler starts from the zip's files alone (the repository's package is not on
    the path): what the allowlist left out is not needed."""
    printed = _run_installed(tmp_path, "import app, lakewatch; print(lakewatch.__file__)")
    assert printed == "APP/lakewatch/__init__.py"


def test_installed_package_finds_its_own_sql(tmp_path):
    printed = _run_installed(tmp_path, "import lakewatch.extract.views as v; print(v.sql_dir())")
    assert printed == "APP/lakewatch/extract/sql"


# actions IAM supports only on "*" (no resource-level permissions)
RESOURCELESS = {
    "ecr:GetAuthorizationToken",
    "lakeformation:GetDataAccess",
    "lambda:ListEventSourceMappings",
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


@pytest.fixture
def emulated(aws):
    settings, resources = aws
    clients = Boto3Clients(
        settings,
        endpoint_overrides={
            "lambda": settings.resolved_endpoint_url,
            "iam": settings.resolved_endpoint_url,
        },
    )
    role = clients("iam").create_role(
        RoleName=f"scorer-{settings.queue_name}",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    queue_arn = clients("sqs").get_queue_attributes(
        QueueUrl=resources.queue_url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    return settings, clients, role, queue_arn


def test_lambda_deploy_against_the_emulator(emulated):
    settings, clients, role, queue_arn = emulated
    lam = clients("lambda")
    config = ScorerConfig(
        endpoint_name="ep", threshold_parameter="/t", results_bucket="b", dlq_url="https://sqs/dlq"
    )
    function = f"scorer-{settings.queue_name}"[:64]

    def deploy():
        return deploy_lambda(
            lam,
            function=function,
            package=build(),
            config=config,
            role_arn=role,
            queue_arn=queue_arn,
            sleep=lambda s: None,
        )

    first = deploy()
    assert first.changed and first.state == "Enabled"
    conf = lam.get_function(FunctionName=function)["Configuration"]
    assert conf["Handler"] == "app.lambda_handler" and conf["Runtime"] == "python3.11"
    assert conf["Environment"]["Variables"]["LAKEWATCH_ENDPOINT_NAME"] == "ep"
    alias = lam.get_alias(FunctionName=function, Name=ALIAS)
    assert alias["FunctionVersion"] == first.version
    [mapping] = lam.list_event_source_mappings(EventSourceArn=queue_arn)["EventSourceMappings"]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # the mapping invokes the alias (moto records the alias resolved to its version)
    assert mapping["FunctionArn"].endswith((f":{ALIAS}", f":{first.version}"))

    again = deploy()  # the same sources and configuration
    assert not again.changed and again.mapping == first.mapping


def test_the_scorer_imports_neither_scipy_nor_torch():
    """The function's layer holds the handler's requirements only: reading a detector must not
    pull in the training stack."""
    code = (
        "import sys, app; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'scipy', 'torch', 'sklearn'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[2] / "include" / "lambda" / "ipcheck",
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == "[]"


def test_a_failed_lambda_update_names_its_reason():
    """boto3's waiters end on a failed function at once, and the reason reaches the task."""
    import boto3
    from botocore.stub import Stubber

    from lakewatch.serving.lambda_deploy import _wait_updated

    lam = boto3.client("lambda", region_name="us-east-1")
    stub = Stubber(lam)
    stub.add_response(
        "get_function",
        {
            "Configuration": {
                "State": "Failed",
                "StateReason": "layer arn:aws:lambda:us-east-1:1:layer:x:1 not found",
            }
        },
        {"FunctionName": "scorer"},
    )
    with stub, pytest.raises(RuntimeError, match=r"Lambda scorer: layer .* not found"):
        _wait_updated(lam, "scorer", timeout=10)
