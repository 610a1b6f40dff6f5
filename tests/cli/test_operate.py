"""``lakewatch model | threshold``: on-call's rollbacks of a model (with its own last threshold)
and of a threshold, and the listings, from the command line on the local backend."""

from __future__ import annotations

import json

import pytest

from lakewatch.backends import LocalBackend
from lakewatch.cli import main
from lakewatch.local.emulator import free_port
from lakewatch.local.endpoints import LocalEndpoints
from lakewatch.model.registry import ModelRecord
from lakewatch.serving.deploy import DeployError, deploy, model_registry, rollback_model


@pytest.fixture
def served(aws, clients, trained, tmp_path, monkeypatch):
    """Models a then b deployed, each with a threshold published; the CLI sees these settings."""
    settings, _ = aws
    settings = settings.model_copy(
        update={
            "state_dir": tmp_path / "state",
            "model_server_port": free_port(),
            "threshold_parameter": f"/lakewatch/test/{tmp_path.name}",
        }
    )
    for name, value in settings.model_dump(exclude_defaults=True).items():
        monkeypatch.setenv(f"LAKEWATCH_{name.upper()}", str(value))
    _, model_dir = trained
    s3, ssm = clients("s3"), clients("ssm")
    records = {}
    for model_id, pairs in (("ipi-a", "egress_peer"), ("ipi-b", "egress_peer,dns_answer")):
        key = f"models/artifacts/{model_id}/model.tar.gz"
        s3.put_object(
            Bucket=settings.results_bucket_name,
            Key=key,
            Body=(model_dir / "model.tar.gz").read_bytes(),
        )
        record = ModelRecord(
            model_id=model_id,
            artifact_uri=f"s3://{settings.results_bucket_name}/{key}",
            algorithm="lakewatch",
            hyperparameters={},
            data_interval={"start": "2026-11-01", "end": "2026-11-02"},
            days=["2026-11-01"],
            extra={"pairs": pairs},
        )
        model_registry(settings, clients).register(record)
        assert deploy(settings, clients, record, LocalBackend(settings)).changed
        ssm.put_parameter(
            Name=settings.threshold_parameter,
            Type="String",
            Overwrite=True,
            Value=json.dumps(
                {"threshold": -2.0 if model_id == "ipi-a" else -3.0, "model_id": model_id}
            ),
        )
        records[model_id] = record
    yield settings, records
    LocalEndpoints(settings).processes.stop_all()


def _published(clients, settings):
    p = clients("ssm").get_parameter(Name=settings.threshold_parameter)["Parameter"]
    return json.loads(p["Value"]), p["Version"]


def test_model_rollback_serves_the_previous_model_with_its_threshold(served, clients, capsys):
    settings, _ = served
    endpoints = LocalEndpoints(settings)
    assert endpoints.serving(settings.endpoint_name) == "ipi-b"

    assert main(["model", "rollback", "--reason", "bad findings"]) == 0
    out = capsys.readouterr().out
    assert "serves ipi-a again (was ipi-b)" in out
    assert "trigger lakewatch_scorer_deploy" in out  # the models read different views
    assert endpoints.serving(settings.endpoint_name) == "ipi-a"
    state = model_registry(settings, clients).endpoint(settings.endpoint_name)
    assert (state.current, state.previous) == ("ipi-a", "ipi-b")
    assert state.history[-1]["action"] == "rollback"
    assert state.history[-1]["reason"] == "bad findings"
    value, version = _published(clients, settings)
    assert value == {"threshold": -2.0, "model_id": "ipi-a"} and version == 3

    # rolling back the rollback brings b back, and b's threshold
    result = rollback_model(settings, clients, LocalBackend(settings))
    assert result.model_id == "ipi-b" and result.threshold_version == 4
    assert endpoints.serving(settings.endpoint_name) == "ipi-b"
    assert _published(clients, settings)[0]["model_id"] == "ipi-b"

    assert main(["model", "list"]) == 0
    listing = capsys.readouterr().out
    assert "* ipi-b" in listing and "- ipi-a" in listing and "rollback" in listing


def test_model_rollback_refuses_unknown_models(served, clients):
    settings, _ = served
    with pytest.raises(DeployError, match="ipi-zzz is not in the registry"):
        rollback_model(settings, clients, LocalBackend(settings), "ipi-zzz")
    assert LocalEndpoints(settings).serving(settings.endpoint_name) == "ipi-b"


def test_threshold_rollback_republishes_an_earlier_value(served, clients, capsys):
    settings, _ = served
    assert main(["threshold", "rollback"]) == 0
    assert "version 1's value is live again as version 3" in capsys.readouterr().out
    assert _published(clients, settings) == ({"threshold": -2.0, "model_id": "ipi-a"}, 3)
    assert main(["threshold", "rollback", "--to-version", "2"]) == 0
    assert _published(clients, settings)[0]["model_id"] == "ipi-b"
    assert main(["threshold", "show"]) == 0
    shown = capsys.readouterr().out
    assert shown.count("version ") >= 4 and "model ipi-a" in shown
    assert main(["threshold", "rollback", "--to-version", "9"]) != 0
    assert "has no version 9 (versions: [1, 2, 3, 4])" in capsys.readouterr().err
