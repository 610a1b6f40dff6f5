"""Deploy the scorer to Lambda (``local.functions`` runs the same zip on ``local``).

Create or update the function's code and configuration, publish a version, move the ``live``
alias to it, create or update the SQS event source mapping (partial batch responses) on the
alias, and wait until it is enabled. Every step first checks what is there, so a rerun
changes nothing when nothing changed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError, WaiterError

from lakewatch.scoring.process import ScorerConfig
from lakewatch.serving.scorer_package import Package

ALIAS = "live"
RUNTIME = "python3.11"
HANDLER = "app.lambda_handler"


@dataclass
class ScorerDeployment:
    function: str
    version: str
    code_sha256: str
    mapping: str  # event source mapping UUID, or the local process name
    state: str
    changed: bool


WAITER_DELAY_S = 2


def _wait_updated(lam: Any, name: str, timeout: float) -> None:
    """Until the function is active and its last update done: boto3's own Lambda waiters."""
    config = {"Delay": WAITER_DELAY_S, "MaxAttempts": max(1, int(timeout // WAITER_DELAY_S))}
    try:
        lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=config)
        lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=config)
    except WaiterError as err:
        conf = (err.last_response or {}).get("Configuration", {})
        reason = conf.get("LastUpdateStatusReason") or conf.get("StateReason") or str(err)
        raise RuntimeError(f"Lambda {name}: {reason}") from None


def deploy_lambda(
    lam: Any,
    *,
    function: str,
    package: Package,
    config: ScorerConfig,
    role_arn: str,
    queue_arn: str,
    batch_size: int = 10,
    batching_window_s: int = 5,
    timeout_s: int = 300,
    memory_mb: int = 2048,
    layers: list[str] | None = None,
    wait_timeout: float = 600,
    sleep=time.sleep,
) -> ScorerDeployment:
    env = {"Variables": config.to_env()}
    settings = {
        "Role": role_arn,
        "Handler": HANDLER,
        "Runtime": RUNTIME,
        "Timeout": timeout_s,
        "MemorySize": memory_mb,
        "Environment": env,
        "Layers": layers or [],
    }
    changed = False
    try:
        current = lam.get_function(FunctionName=function)["Configuration"]
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        lam.create_function(
            FunctionName=function,
            Code={"ZipFile": package.body},
            Tags={"lakewatch:managed": "true"},
            **settings,
        )
        changed = True
    else:
        if current.get("CodeSha256") != package.code_sha256:
            lam.update_function_code(FunctionName=function, ZipFile=package.body)
            changed = True
            _wait_updated(lam, function, wait_timeout)
        differs = (
            current.get("Environment", {}).get("Variables") != env["Variables"]
            or current.get("Timeout") != timeout_s
            or current.get("MemorySize") != memory_mb
            or current.get("Handler") != HANDLER
            or current.get("Role") != role_arn
        )
        if differs:
            lam.update_function_configuration(FunctionName=function, **settings)
            changed = True
    _wait_updated(lam, function, wait_timeout)
    version = lam.publish_version(FunctionName=function, CodeSha256=package.code_sha256)["Version"]
    try:
        alias = lam.get_alias(FunctionName=function, Name=ALIAS)
        if alias["FunctionVersion"] != version:
            lam.update_alias(FunctionName=function, Name=ALIAS, FunctionVersion=version)
            changed = True
        alias_arn = alias["AliasArn"]
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        alias_arn = lam.create_alias(FunctionName=function, Name=ALIAS, FunctionVersion=version)[
            "AliasArn"
        ]
        changed = True
    mapping_args = {
        "BatchSize": batch_size,
        "MaximumBatchingWindowInSeconds": batching_window_s,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "Enabled": True,
    }
    existing = lam.list_event_source_mappings(EventSourceArn=queue_arn, FunctionName=alias_arn).get(
        "EventSourceMappings", []
    )
    if existing:
        uuid = existing[0]["UUID"]
        current = existing[0]
        if (
            current.get("BatchSize") != batch_size
            or current.get("MaximumBatchingWindowInSeconds") != batching_window_s
            or current.get("FunctionResponseTypes") != ["ReportBatchItemFailures"]
            or current.get("State") not in ("Enabled", "Enabling")
        ):
            lam.update_event_source_mapping(UUID=uuid, FunctionName=alias_arn, **mapping_args)
            changed = True
    else:
        uuid = lam.create_event_source_mapping(
            EventSourceArn=queue_arn, FunctionName=alias_arn, **mapping_args
        )["UUID"]
        changed = True
    deadline = time.monotonic() + wait_timeout
    while True:
        state = lam.get_event_source_mapping(UUID=uuid)["State"]
        if state == "Enabled":
            break
        if state in ("Disabled", "Deleting") or time.monotonic() > deadline:
            raise RuntimeError(f"event source mapping {uuid} is {state}, not Enabled")
        sleep(2)
    return ScorerDeployment(function, version, package.code_sha256, uuid, state, changed)
