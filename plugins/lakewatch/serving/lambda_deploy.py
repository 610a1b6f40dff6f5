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
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError, WaiterError

from lakewatch.aws.s3 import S3Uri
from lakewatch.scoring.process import ScorerConfig
from lakewatch.serving.scorer_layer import LAMBDA_RUNTIME
from lakewatch.serving.scorer_package import Package

ALIAS = "live"
RUNTIME = LAMBDA_RUNTIME
HANDLER = "app.lambda_handler"
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
    layers: list[str] | None = None,
    runtime: str = RUNTIME,
    architecture: str = "x86_64",
    wait_timeout: float = 600,
    sleep=time.sleep,
) -> ScorerDeployment:
    env = {"Variables": config.to_env()}
    settings = {
        "Role": role_arn,
        "Handler": HANDLER,
        "Runtime": runtime,
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
            Architectures=[architecture],
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
            or current.get("Runtime") != runtime
            or [layer["Arn"] for layer in current.get("Layers", [])] != (layers or [])
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
