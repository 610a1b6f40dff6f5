"""serving.deploy: a deploy is recorded only when it changed what serves, a rollback needs a
registered target, and the threshold republished on rollback is the target model's last one
(none if it never had one); whether the scorer must be redeployed follows the pair views."""

import json

import pytest

from lakewatch.model.registry import ModelRecord
from lakewatch.serving.deploy import (
    DeployError,
    DeployResult,
    ServingStarted,
    deploy,
    finish_deploy,
    model_registry,
    roll_back_refused,
    rollback_model,
    start_deploy,
)


class Hosting:
    """What the backends do for a deploy, kept in memory: which model serves."""

    def __init__(self):
        self.serving = ""
        self.calls: list[tuple[str, str]] = []

    def start_serving(self, clients, record: ModelRecord) -> dict:
        changed, previous = self.serving != record.model_id, self.serving
        self.serving = record.model_id
        self.calls.append(("serve", record.model_id))
        return {"model_id": record.model_id, "previous": previous, "changed": changed, "polls": 0}

    def serving_settled(self, clients, started: dict) -> tuple[bool, str]:
        started["polls"] += 1
        return started["polls"] > 1, "updating"

    def finish_serving(self, clients, started: dict) -> DeployResult:
        self.calls.append(("finish", started["model_id"]))
        return DeployResult(
            "ep",
            started["model_id"],
            started["previous"],
            started["changed"],
            {"config": started["model_id"]},
        )

    def serve_again(self, clients, model_id: str) -> None:
        self.serving = model_id
        self.calls.append(("serve_again", model_id))


def _record(model_id: str, pairs: str) -> ModelRecord:
    return ModelRecord(
        model_id, f"s3://r/{model_id}", "lakewatch", {}, {}, [], extra={"pairs": pairs}
    )


@pytest.fixture
def setup(aws, clients, tmp_path):
    settings = aws[0].model_copy(update={"threshold_parameter": f"/lakewatch/t/{tmp_path.name}"})
    registry = model_registry(settings, clients)
    for model_id, pairs in (("ipi-a", "egress_peer"), ("ipi-b", "egress_peer"), ("ipi-c", "dns")):
        registry.register(_record(model_id, pairs))
    return settings, registry, Hosting()


def _publish(clients, settings, model_id: str) -> None:
    clients("ssm").put_parameter(
        Name=settings.threshold_parameter,
        Type="String",
        Overwrite=True,
        Value=json.dumps({"threshold": -1.0, "model_id": model_id}),
    )


def test_a_deploy_is_recorded_only_when_it_finishes_having_changed_something(setup, clients):
    settings, registry, hosting = setup
    started = start_deploy(settings, clients, _record("ipi-b", ""), hosting)
    assert registry.endpoint(settings.endpoint_name).current == ""  # started, not done
    assert hosting.serving_settled(clients, started) == (False, "updating")
    assert finish_deploy(settings, clients, started, hosting).changed
    assert registry.endpoint(settings.endpoint_name).current == "ipi-b"
    assert deploy(settings, clients, _record("ipi-a", ""), hosting).changed
    assert not deploy(settings, clients, _record("ipi-a", ""), hosting).changed
    state = registry.endpoint(settings.endpoint_name)
    assert state.current == "ipi-a" and [h["action"] for h in state.history] == ["deploy"] * 2
    assert state.history[-1]["config"] == "ipi-a"


def test_rollbacks_need_a_target_in_the_registry(setup, clients):
    settings, _, hosting = setup
    with pytest.raises(DeployError, match="has no previous model to roll back to"):
        rollback_model(settings, clients, hosting)
    deploy(settings, clients, _record("ipi-a", ""), hosting)
    with pytest.raises(DeployError, match="model ipi-x is not in the registry"):
        rollback_model(settings, clients, hosting, "ipi-x")
    assert hosting.calls == [("serve", "ipi-a"), ("finish", "ipi-a")]  # nothing was touched


def test_the_rolled_back_model_gets_its_own_last_threshold(setup, clients):
    settings, registry, hosting = setup
    for model_id in ("ipi-a", "ipi-b"):
        deploy(settings, clients, registry.get(model_id), hosting)
        _publish(clients, settings, model_id)
    result = rollback_model(settings, clients, hosting)  # back to a, whose threshold is v1
    assert (result.model_id, result.replaced, result.threshold_version) == ("ipi-a", "ipi-b", 3)
    assert not result.pairs_changed and hosting.serving == "ipi-a"
    again = rollback_model(settings, clients, hosting, "ipi-a")  # its threshold is current
    assert again.threshold_version == 3
    never = rollback_model(settings, clients, hosting, "ipi-c")
    assert never.threshold_version is None and never.pairs_changed
    state = registry.endpoint(settings.endpoint_name)
    assert state.history[-1] == {**state.history[-1], "action": "rollback", "model_id": "ipi-c"}


def test_a_refused_model_is_rolled_back_only_when_its_deploy_replaced_one(setup, clients):
    settings, registry, hosting = setup
    replaced = DeployResult("ep", "ipi-b", "ipi-a", True, {})
    said = roll_back_refused(settings, clients, replaced, "AUC 0.51", hosting)
    assert said == "AUC 0.51; rolled back to ipi-a" and hosting.serving == "ipi-a"
    assert registry.endpoint(settings.endpoint_name).history[-1]["action"] == "rollback"
    for first_or_unchanged in (
        DeployResult("ep", "ipi-b", "", True, {}),
        DeployResult("ep", "ipi-b", "ipi-a", False, {}),
    ):
        said = roll_back_refused(settings, clients, first_or_unchanged, "AUC 0.51", hosting)
        assert said == "AUC 0.51; no previous model to roll back to"
    assert hosting.calls == [("serve_again", "ipi-a")]


def test_a_started_deploy_travels_as_json_and_is_validated_where_read():
    started = ServingStarted(endpoint="ep", model_id="ipi-b", changed=True, config="ep-ipi-b")
    assert ServingStarted.from_json(json.loads(json.dumps(started.to_json()))) == started
    with pytest.raises(ValueError, match="changed"):
        ServingStarted.from_json({"endpoint": "ep", "model_id": "ipi-b"})
    with pytest.raises(ValueError, match="Extra inputs"):
        ServingStarted.from_json({**started.to_json(), "typo": 1})
