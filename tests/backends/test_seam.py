"""The backend seam: one place decides, and both backends offer the same compute."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from lakewatch.backends import AwsBackend, Backend, LocalBackend, backend_for, clients_for
from lakewatch.extract.athena import AthenaRunner
from lakewatch.extract.engine import DuckAthena
from lakewatch.names import lambda_function_name
from lakewatch.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
ALLOWED = {
    ROOT / "plugins" / "lakewatch" / "settings.py",  # where the setting is defined
    *(ROOT / "plugins" / "lakewatch" / "backends").glob("*.py"),
}


def _reads_of_backend(path: Path) -> list[int]:
    """Lines where ``<something>.backend`` is read as a value (a call such as
    ``router.backend(name)`` is another thing of that name)."""
    tree = ast.parse(path.read_text(), str(path))
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return [
        n.lineno
        for n in ast.walk(tree)
        if isinstance(n, ast.Attribute) and n.attr == "backend" and id(n) not in called
    ]


def test_nothing_outside_the_backends_reads_the_backend_setting():
    files = [*(ROOT / "plugins").rglob("*.py"), *(ROOT / "dags").rglob("*.py")]
    assert len(files) > 50
    offenders = {
        str(p.relative_to(ROOT)): lines
        for p in files
        if p not in ALLOWED and (lines := _reads_of_backend(p))
    }
    assert offenders == {}, f"read settings.backend through lakewatch.backends: {offenders}"


def test_the_check_finds_a_read(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f(settings):\n    return settings.backend == 'local'\n")
    assert _reads_of_backend(bad) == [2]


def _members(cls: type) -> set[str]:
    return {n for n, _ in inspect.getmembers(cls) if not n.startswith("_")}


def test_both_backends_implement_every_member_of_the_protocol():
    wanted = {n for n in Backend.__dict__ if not n.startswith("_")} | {"name", "settings"}
    wanted -= {"settings"}  # an instance attribute
    for cls in (LocalBackend, AwsBackend):
        assert wanted - _members(cls) == set(), cls
        for name in wanted - {"name"}:
            mine = inspect.signature(getattr(cls, name))
            theirs = inspect.signature(getattr(Backend, name))
            assert list(mine.parameters) == list(theirs.parameters), (cls, name)


@pytest.mark.parametrize("kind, cls", [("local", LocalBackend), ("aws", AwsBackend)])
def test_backend_for_follows_the_setting(kind, cls):
    backend = backend_for(Settings(backend=kind))
    assert isinstance(backend, cls) and backend.name == kind


def test_local_trains_its_own_ip_insights_and_serves_through_the_router():
    local = LocalBackend(Settings(backend="local", model_server_port=8123))
    assert local.training_algorithm("builtin") == "lakewatch"
    assert local.training_job(lambda s: None, {"algorithm": "lakewatch"}).action == "local"
    assert local.runtime_url() == "http://127.0.0.1:8123"
    clients = local.clients()
    assert clients.endpoint_url("sagemaker-runtime") == "http://127.0.0.1:8123"
    assert clients.endpoint_url("s3") == local.settings.resolved_endpoint_url


def test_aws_keeps_the_requested_algorithm_and_aws_endpoints():
    aws = AwsBackend(Settings(backend="aws"))
    assert aws.training_algorithm("builtin") == "builtin"
    assert aws.runtime_url() is None
    assert clients_for(aws.settings).endpoint_url("s3") is None


def test_sql_engines(tmp_path):
    aws = AwsBackend(Settings(backend="aws", athena_workgroup="wg"))
    engine = aws.sql_engine(lambda service: object())
    assert isinstance(engine, AthenaRunner) and engine.name == "athena"
    local = LocalBackend(Settings(backend="local"))
    assert isinstance(local.sql_engine(lambda service: None, str(tmp_path)), DuckAthena)


def test_aws_scorer_deploy_needs_the_execution_role():
    aws = AwsBackend(Settings(backend="aws"))
    with pytest.raises(ValueError, match="LAKEWATCH_LAMBDA_ROLE_ARN"):
        aws.deploy_scorer(lambda s: None, None, None)  # type: ignore[arg-type]


def test_local_mapping_state_says_when_the_runtime_is_not_running(tmp_path):
    local = LocalBackend(Settings(backend="local", state_dir=tmp_path))
    assert local.scorer_mapping_state(lambda s: None) == "the local scorer runtime is not running"


def test_aws_mapping_state_reads_the_event_source_mapping():
    aws = AwsBackend(Settings(backend="aws"))
    mine = f"arn:aws:lambda:us-east-1:1:function:{lambda_function_name(aws.settings.endpoint_name)}"

    class Lambda:
        def list_event_source_mappings(self, EventSourceArn):
            self.arn = EventSourceArn
            return {
                "EventSourceMappings": [
                    {"FunctionArn": "arn:aws:lambda:us-east-1:1:function:other", "State": "x"},
                    {"FunctionArn": mine, "State": "Enabled"},
                ]
            }

    lam = Lambda()
    assert aws.scorer_mapping_state(lambda service: lam) == "Enabled"
    assert lam.arn == aws.settings.queue_arn()
    assert (
        AwsBackend(Settings(backend="aws", endpoint_name="another")).scorer_mapping_state(
            lambda service: lam
        )
        == "no event source mapping"
    )


class _Endpoints:
    """SageMakerEndpoints' answers for one update of ``ep`` from ``ep-a`` to ``ep-b``."""

    def start(self, endpoint, model_id, config):
        return {
            "endpoint": endpoint,
            "model_id": model_id,
            "config": "ep-b",
            "previous": "ep-a",
            "changed": True,
        }

    def settled(self, endpoint):
        return True, f"{endpoint} InService on ep-b"

    def finish(self, started):
        assert started["config"] == "ep-b" and started["previous"] == "ep-a"
        return started


def test_aws_serving_results_are_typed_and_read_back_from_json(monkeypatch):
    from lakewatch.model.registry import ModelRecord
    from lakewatch.serving.deploy import ServingStarted

    aws = AwsBackend(Settings(backend="aws", endpoint_name="ep"))
    monkeypatch.setattr(AwsBackend, "_endpoints", lambda self, clients: _Endpoints())
    record = ModelRecord("ipi-b", "s3://r/ipi-b/model.tar.gz", "builtin", {}, {}, [])
    started = aws.start_serving(lambda s: None, record)
    assert isinstance(started, ServingStarted) and started.config == "ep-b"
    again = ServingStarted.from_json(started.to_json())  # what the next task reads
    assert aws.serving_settled(lambda s: None, again) == (True, "ep InService on ep-b")
    assert aws.finish_serving(lambda s: None, again)["model_id"] == "ipi-b"
