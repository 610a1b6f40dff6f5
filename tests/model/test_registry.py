"""model.registry: one record per model and each endpoint's deploy history, which rollbacks and
on-call read; on a local folder and on the emulator's S3 alike."""

import pytest

from lakewatch.lake.sink import LocalStore, S3Store
from lakewatch.model.registry import ModelRecord, Registry


def _record(model_id: str, created: str) -> ModelRecord:
    return ModelRecord(
        model_id=model_id,
        artifact_uri=f"s3://results/models/artifacts/{model_id}/model.tar.gz",
        algorithm="lakewatch",
        hyperparameters={"vector_dim": 128},
        data_interval={"start": "2026-11-01", "end": "2026-11-08"},
        days=["2026-11-07"],
        metrics={"validation_auc": 0.97},
        created=created,
    )


@pytest.fixture(params=["local", "s3"])
def registry(request, tmp_path, aws, clients):
    if request.param == "local":
        return Registry(LocalStore(tmp_path))
    return Registry(S3Store(clients("s3"), aws[0].results_bucket_name))


def test_records_round_trip_and_list_oldest_first(registry):
    assert registry.get("ipi-none") is None and registry.models() == []
    newer, older = (
        _record("ipi-2", "2026-11-02T00:00:00Z"),
        _record("ipi-1", "2026-11-01T00:00:00Z"),
    )
    uri = registry.register(newer)
    registry.register(older)
    assert uri.endswith("models/registry/ipi-2.json")
    assert registry.get("ipi-2") == newer
    assert [r.model_id for r in registry.models()] == ["ipi-1", "ipi-2"]


def test_deploys_track_current_and_previous_and_keep_a_bounded_history(registry):
    assert registry.endpoint("ep").current == ""
    registry.record_deploy("ep", "ipi-1")
    state = registry.record_deploy("ep", "ipi-2", detail={"config": "ep-2"})
    assert (state.current, state.previous) == ("ipi-2", "ipi-1")
    state = registry.record_deploy("ep", "ipi-2", action="verify")  # no change of model
    assert (state.current, state.previous) == ("ipi-2", "ipi-1")
    assert [h["action"] for h in state.history] == ["deploy", "deploy", "verify"]
    assert state.history[1]["config"] == "ep-2"
    for k in range(120):
        registry.record_deploy("ep", f"ipi-{k % 2}")
    assert len(registry.endpoint("ep").history) == 100
