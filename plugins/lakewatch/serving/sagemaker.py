"""SageMaker endpoints: deploy a model safely, verify it, and roll back.

Names derive from the model id (``names``), so a rerun reuses the model and endpoint config the
first try created. Deploy creates the endpoint or updates it to the new endpoint config, waits
until it is InService, then checks that it really serves the new config; if not, it updates the
endpoint back to the config it served before and raises.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from lakewatch.names import endpoint_config_name
from lakewatch.serving.deploy import DeployError, DeployResult


def _missing(err: ClientError) -> bool:
    message = err.response.get("Error", {}).get("Message", "")
    return err.response.get("Error", {}).get("Code") == "ValidationException" and (
        "Could not find" in message or "does not exist" in message
    )


_TRANSITIONAL = ("Creating", "Updating", "SystemUpdating", "RollingBack")


class SageMakerEndpoints:
    def __init__(
        self,
        sm: Any,
        *,
        instance_type: str = "ml.m5.large",
        poll_seconds: float = 30.0,
        timeout_seconds: float = 3600.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.sm = sm
        self.instance_type = instance_type
        self.poll = poll_seconds
        self.timeout = timeout_seconds
        self.sleep = sleep

    # idempotent building blocks -------------------------------------------------------------

    def ensure_model(self, config: dict[str, Any]) -> None:
        try:
            self.sm.describe_model(ModelName=config["ModelName"])
        except ClientError as err:
            if not _missing(err):
                raise
            self.sm.create_model(**config)

    def ensure_endpoint_config(self, name: str, model_name: str, model_id: str) -> None:
        try:
            self.sm.describe_endpoint_config(EndpointConfigName=name)
        except ClientError as err:
            if not _missing(err):
                raise
            self.sm.create_endpoint_config(
                EndpointConfigName=name,
                ProductionVariants=[
                    {
                        "VariantName": "AllTraffic",
                        "ModelName": model_name,
                        "InitialInstanceCount": 1,
                        "InstanceType": self.instance_type,
                        "InitialVariantWeight": 1.0,
                    }
                ],
                Tags=[{"Key": "lakewatch:model-id", "Value": model_id}],
            )

    def describe(self, endpoint: str) -> dict[str, Any] | None:
        try:
            return self.sm.describe_endpoint(EndpointName=endpoint)
        except ClientError as err:
            if _missing(err):
                return None
            raise

    def wait(self, endpoint: str) -> dict[str, Any]:
        """Until the endpoint leaves Creating/Updating/RollingBack; returns its description."""
        deadline = time.monotonic() + self.timeout
        while True:
            desc = self.describe(endpoint)
            if desc is None:
                raise DeployError(f"endpoint {endpoint} disappeared")
            if desc["EndpointStatus"] not in _TRANSITIONAL:
                return desc
            if time.monotonic() > deadline:
                raise DeployError(
                    f"endpoint {endpoint} still {desc['EndpointStatus']} after {self.timeout:.0f}s"
                )
            self.sleep(self.poll)

    def serving(self, endpoint: str) -> str | None:
        desc = self.describe(endpoint)
        return desc["EndpointConfigName"] if desc else None

    # deploy / rollback ----------------------------------------------------------------------

    def start(self, endpoint: str, model_id: str, model_config: dict[str, Any]) -> dict[str, Any]:
        """Create or update the endpoint onto ``model_id``'s config, without waiting for it
        (``settled`` says when it is done, ``finish`` checks the outcome)."""
        config_name = endpoint_config_name(endpoint, model_id)
        self.ensure_model(model_config)
        self.ensure_endpoint_config(config_name, model_config["ModelName"], model_id)
        started = {"endpoint": endpoint, "model_id": model_id, "config": config_name}
        desc = self.describe(endpoint)
        if desc is None:
            self.sm.create_endpoint(
                EndpointName=endpoint,
                EndpointConfigName=config_name,
                Tags=[{"Key": "lakewatch:managed", "Value": "true"}],
            )
            return {**started, "previous": "", "changed": True}
        desc = self.wait(endpoint)  # someone else's update (rare: deploys share one pool slot)
        previous = desc["EndpointConfigName"]
        if previous == config_name and desc["EndpointStatus"] == "InService":
            return {**started, "previous": previous, "changed": False}
        self.sm.update_endpoint(EndpointName=endpoint, EndpointConfigName=config_name)
        return {**started, "previous": previous, "changed": True}

    def settled(self, endpoint: str) -> tuple[bool, str]:
        """Has the endpoint left Creating/Updating/RollingBack? (done, what it is now)"""
        desc = self.describe(endpoint)
        if desc is None:
            raise DeployError(f"endpoint {endpoint} disappeared")
        status = desc["EndpointStatus"]
        return status not in _TRANSITIONAL, f"{endpoint} {status} on {desc['EndpointConfigName']}"

    def finish(self, started: dict[str, Any]) -> DeployResult:
        """The deploy's outcome; a failed one rolls back to the previous config and raises."""
        endpoint, model_id = started["endpoint"], started["model_id"]
        config_name, previous = started["config"], started["previous"]
        if not started["changed"]:
            return DeployResult(endpoint, model_id, previous, False, {"endpoint_config": previous})
        after = self.wait(endpoint)
        if after["EndpointStatus"] != "InService" or after["EndpointConfigName"] != config_name:
            reason = after.get("FailureReason", "")
            if previous and previous != config_name:
                self.rollback(endpoint, previous)
            raise DeployError(
                f"endpoint {endpoint} is {after['EndpointStatus']} on "
                f"{after['EndpointConfigName']}, not InService on {config_name}"
                + (f": {reason}" if reason else "")
                + (f"; rolled back to {previous}" if previous else "")
            )
        return DeployResult(
            endpoint,
            model_id,
            previous,
            True,
            {"endpoint_config": config_name, "previous_config": previous},
        )

    def deploy(self, endpoint: str, model_id: str, model_config: dict[str, Any]) -> DeployResult:
        """``start`` then ``finish``, waiting in between (for callers outside Airflow)."""
        return self.finish(self.start(endpoint, model_id, model_config))

    def rollback(self, endpoint: str, config_name: str) -> None:
        desc = self.wait(endpoint)
        if desc["EndpointConfigName"] == config_name and desc["EndpointStatus"] == "InService":
            return
        self.sm.update_endpoint(EndpointName=endpoint, EndpointConfigName=config_name)
        after = self.wait(endpoint)
        if after["EndpointStatus"] != "InService":
            raise DeployError(
                f"rollback of {endpoint} to {config_name} left it "
                f"{after['EndpointStatus']}: {after.get('FailureReason', '')}"
            )
