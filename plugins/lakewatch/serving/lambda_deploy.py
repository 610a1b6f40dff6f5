"""Deploy the scorer to Lambda (``local.functions`` runs the same zip on ``local``).

Create or update the function's code and configuration, publish a version, move the ``live``
alias to it, create or update the SQS event source mapping (partial batch responses) on the
alias, and wait until it is enabled. Every step first checks what is there, so a rerun
changes nothing when nothing changed.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError, WaiterError

from lakewatch.aws.s3 import S3Uri
from lakewatch.scoring.process import ScorerConfig
from lakewatch.serving.lambda_layer import LAMBDA_RUNTIME
from lakewatch.serving.lambda_package import Package

ALIAS = "live"
RUNTIME = LAMBDA_RUNTIME
HANDLER = "app.lambda_handler"
# the function's /tmp (MB): DuckDB spills an object's pair counts there past its memory cap
# (``scoring.pairs.AGGREGATE_MEMORY``): 444 MB for a 20M-row VPC Flow object, over Lambda's
# default 512 MB with anything else there
SCRATCH_MB = 2048
ARCHITECTURES = {"x86_64": "x86_64", "aarch64": "arm64"}


@dataclass
class PublishedLayer:
    arn: str
    sha256: str
    runtime: str
    architecture: str  # Lambda's name: x86_64 | arm64
    published: bool  # False: that content was already a version


def publish_layer(lam: Any, s3: Any, artifacts_uri: str, name: str) -> PublishedLayer:
    """The layer version holding ``artifacts_uri``'s ``layer.zip`` (what ``lakewatch scorer
    package`` wrote, uploaded with its ``manifest.json``): found by its hash among the
    layer's versions, else published from S3 and checked against the manifest's hash."""
    loc = S3Uri.parse(artifacts_uri.rstrip("/") + "/")
    try:
        body = s3.get_object(Bucket=loc.bucket, Key=f"{loc.key}manifest.json")["Body"].read()
    except ClientError as err:
        raise ValueError(
            f"no manifest.json under {artifacts_uri}: upload what `lakewatch scorer package "
            f"--out DIR` wrote ({err.response.get('Error', {}).get('Code')})"
        ) from None
    manifest = json.loads(body)
    sha = manifest["layer"]["sha256"]
    arch = ARCHITECTURES[manifest.get("architecture", "x86_64")]
    description = f"lakewatch scorer dependencies sha256:{sha}"
    for page in lam.get_paginator("list_layer_versions").paginate(LayerName=name):
        for version in page.get("LayerVersions", []):
            if version.get("Description") == description:
                return PublishedLayer(
                    version["LayerVersionArn"], sha, manifest["runtime"], arch, False
                )
    out = lam.publish_layer_version(
        LayerName=name,
        Description=description,
        Content={"S3Bucket": loc.bucket, "S3Key": f"{loc.key}layer.zip"},
        CompatibleRuntimes=[manifest["runtime"]],
        CompatibleArchitectures=[arch],
    )
    got = out.get("Content", {}).get("CodeSha256", "")
    want = base64.b64encode(bytes.fromhex(sha)).decode()
    if got and got != want:
        lam.delete_layer_version(LayerName=name, VersionNumber=out["Version"])
        raise ValueError(
            f"{artifacts_uri}layer.zip is not the layer its manifest describes "
            f"(sha256 {base64.b64decode(got).hex()[:16]}, manifest {sha[:16]}); deleted the "
            "version just published"
        )
    return PublishedLayer(out["LayerVersionArn"], sha, manifest["runtime"], arch, True)


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
    scratch_mb: int = SCRATCH_MB,
    layers: list[str] | None = None,
    runtime: str = RUNTIME,
    architecture: str = "x86_64",
    wait_timeout: float = 600,
    sleep: Callable[[float], object] = time.sleep,
) -> ScorerDeployment:
    """Make the function, its ``live`` alias and its queue mapping what the arguments say;
    ``changed`` tells whether anything had to change."""
    settings = {
        "Role": role_arn,
        "Handler": HANDLER,
        "Runtime": runtime,
        "Timeout": timeout_s,
        "MemorySize": memory_mb,
        "EphemeralStorage": {"Size": scratch_mb},
        "Environment": {"Variables": config.to_env()},
        "Layers": layers or [],
    }
    changed = _put_function(lam, function, package, settings, architecture, wait_timeout)
    _wait_updated(lam, function, wait_timeout)
    version = lam.publish_version(FunctionName=function, CodeSha256=package.code_sha256)["Version"]
    alias_arn, moved = _point_alias(lam, function, version)
    uuid, remapped = _put_mapping(lam, queue_arn, alias_arn, batch_size, batching_window_s)
    state = _wait_enabled(lam, uuid, wait_timeout, sleep)
    changed = changed or moved or remapped
    return ScorerDeployment(function, version, package.code_sha256, uuid, state, changed)


def _put_function(
    lam: Any,
    function: str,
    package: Package,
    settings: dict[str, Any],
    architecture: str,
    wait_timeout: float,
) -> bool:
    """Create the function, or update its code and then its configuration where they differ
    from ``package`` and ``settings``; whether anything changed."""
    try:
        current = lam.get_function(FunctionName=function)["Configuration"]
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        lam.create_function(
            FunctionName=function,
            Code={"ZipFile": package.body},
            Tags={"lakewatch:managed": "true"},
            Architectures=[architecture],
            **settings,
        )
        return True
    changed = False
    if current.get("CodeSha256") != package.code_sha256:
        lam.update_function_code(FunctionName=function, ZipFile=package.body)
        changed = True
        _wait_updated(lam, function, wait_timeout)
    if _configuration_differs(current, settings):
        lam.update_function_configuration(FunctionName=function, **settings)
        changed = True
    return changed


def _configuration_differs(current: dict[str, Any], settings: dict[str, Any]) -> bool:
    """Whether the deployed configuration is not ``settings`` (its layers compared by ARN)."""
    return (
        current.get("Environment", {}).get("Variables") != settings["Environment"]["Variables"]
        or current.get("Timeout") != settings["Timeout"]
        or current.get("MemorySize") != settings["MemorySize"]
        or current.get("EphemeralStorage", {}).get("Size", 512)
        != settings["EphemeralStorage"]["Size"]
        or current.get("Handler") != settings["Handler"]
        or current.get("Role") != settings["Role"]
        or current.get("Runtime") != settings["Runtime"]
        or [layer["Arn"] for layer in current.get("Layers", [])] != settings["Layers"]
    )


def _point_alias(lam: Any, function: str, version: str) -> tuple[str, bool]:
    """The ``live`` alias, created or moved to ``version``: (its ARN, whether it changed)."""
    try:
        alias = lam.get_alias(FunctionName=function, Name=ALIAS)
        moved = alias["FunctionVersion"] != version
        if moved:
            lam.update_alias(FunctionName=function, Name=ALIAS, FunctionVersion=version)
        return alias["AliasArn"], moved
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        created = lam.create_alias(FunctionName=function, Name=ALIAS, FunctionVersion=version)
        return created["AliasArn"], True


def _put_mapping(
    lam: Any, queue_arn: str, alias_arn: str, batch_size: int, batching_window_s: int
) -> tuple[str, bool]:
    """The queue's event source mapping on the alias, created, or updated where its batching
    differs or it is not enabled: (its UUID, whether it changed)."""
    mapping_args = {
        "BatchSize": batch_size,
        "MaximumBatchingWindowInSeconds": batching_window_s,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],  # partial batch responses
        "Enabled": True,
    }
    existing = lam.list_event_source_mappings(EventSourceArn=queue_arn, FunctionName=alias_arn).get(
        "EventSourceMappings", []
    )
    if not existing:
        created = lam.create_event_source_mapping(
            EventSourceArn=queue_arn, FunctionName=alias_arn, **mapping_args
        )
        return created["UUID"], True
    current = existing[0]
    uuid = current["UUID"]
    if (
        current.get("BatchSize") != batch_size
        or current.get("MaximumBatchingWindowInSeconds") != batching_window_s
        or current.get("FunctionResponseTypes") != ["ReportBatchItemFailures"]
        or current.get("State") not in ("Enabled", "Enabling")
    ):
        lam.update_event_source_mapping(UUID=uuid, FunctionName=alias_arn, **mapping_args)
        return uuid, True
    return uuid, False


def _wait_enabled(
    lam: Any, uuid: str, wait_timeout: float, sleep: Callable[[float], object]
) -> str:
    """Until the mapping is Enabled (its state); an error once it is disabled, being deleted
    or past ``wait_timeout``."""
    deadline = time.monotonic() + wait_timeout
    while True:
        state = lam.get_event_source_mapping(UUID=uuid)["State"]
        if state == "Enabled":
            return state
        if state in ("Disabled", "Deleting") or time.monotonic() > deadline:
            raise RuntimeError(f"event source mapping {uuid} is {state}, not Enabled")
        sleep(2)
