"""The hourly scorer check: a canary through the live path, the DLQ, the mapping.

The canary is a real VPC Flow object with two outbound flows of one instance the model knows:
to an address it normally uses (must not be flagged) and to a random public address the
endpoint scores below the threshold (must be flagged, exactly once). It is written under
``canary/`` in the results bucket, never into the lake, and announced on the subscriber queue
like any Security Lake object; the scorer writes its findings under ``canary/findings/``. The
check only sends: it never receives from the live queue.
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow.parquet as pq
from botocore.exceptions import ClientError

from lakewatch.aws.clients import ClientFactory
from lakewatch.aws.endpoint import invoke_pairs
from lakewatch.extract.daily import results_store
from lakewatch.lake import notify
from lakewatch.lake.layout import Source, object_key, parse_key
from lakewatch.lake.records import vpc_egress_row, vpc_table
from lakewatch.lake.sink import S3Store
from lakewatch.lake.write import parquet_bytes
from lakewatch.model.detector import Detector
from lakewatch.model.detector_cache import DetectorCache
from lakewatch.model.registry import Registry
from lakewatch.names import canary_findings_prefix, digest
from lakewatch.scoring.storage import findings_key
from lakewatch.settings import Settings
from lakewatch.threshold.publish import read_published
from lakewatch.threshold.published import PublishedThreshold
from lakewatch.threshold.sets import random_public


class CheckFailed(RuntimeError):
    """The scorer is not doing its job; the message says how."""


@dataclass
class CanaryResult:
    entity: str
    normal_ip: str
    anomalous_ip: str
    object_uri: str
    findings_uri: str
    seconds: float
    findings: list[dict[str, Any]] = field(default_factory=list)


CANARY_INSTANCES = 10  # instances tried for a random address the detector flags


def choose_pairs(
    runtime: Any,
    endpoint: str,
    threshold: float,
    candidates: list[tuple[str, str]],
    seed: int,
    found: Detector | None = None,
) -> tuple[str, str, str]:
    """A known pair scoring well above the threshold, and a random public address for the same
    instance scoring below it (scored as the scorer scores: by ``found``, the threshold's
    detector, when it has one)."""

    def score(ents: list[str], ips: list[str]) -> np.ndarray:
        dots = invoke_pairs(runtime, endpoint, ents, ips).dot_product
        if found is None:
            return dots
        return found.score_pairs(ents, ips, dots)

    egress = [(e, ip) for e, ip in candidates if not e.endswith("/in")][:500]
    if not egress:
        raise CheckFailed("no known egress pairs of the deployed model to build a canary from")
    known = score([e for e, _ in egress], [ip for _, ip in egress])
    if not np.nanmax(known) > threshold:
        raise CheckFailed(f"no known pair scores above the threshold {threshold}")
    rng = np.random.default_rng(seed)
    randoms = random_public(rng, 64)
    # the best-scoring pairs' instances in turn, each against random public addresses and
    # other instances' addresses it never used (another group's host: what the detector's
    # "whose address" evidence flags, and in a small fleet the lowest normal scores are such
    # hosts, under every random address); a busy instance may have nothing flagged
    tried: list[str] = []
    for i in np.argsort(-np.nan_to_num(known, nan=-np.inf), kind="stable"):
        entity, normal_ip = egress[int(i)]
        if not known[i] > threshold or len(tried) == CANARY_INSTANCES:
            break
        if entity in tried:
            continue
        tried.append(entity)
        used = {ip for e, ip in egress if e == entity}
        others = sorted({ip for e, ip in egress if e != entity} - used)
        others = [others[int(k)] for k in rng.permutation(len(others))[:64]]
        pool = randoms + others
        fake = score([entity] * len(pool), pool)
        low = int(np.nanargmin(fake))
        if fake[low] < threshold:
            return entity, normal_ip, pool[low]
    raise CheckFailed(
        f"no random or foreign address scores below the threshold {threshold} for "
        + ", ".join(tried)
    )


def run_canary(
    settings: Settings,
    clients: ClientFactory,
    run_key: str,
    timeout_s: float = 300,
    poll_s: float = 2.0,
) -> CanaryResult:
    """Write the canary object, announce it on the subscriber queue, and check that the
    scorer's findings for it flag its random address and nothing else."""
    store = results_store(settings, clients)
    threshold = read_published(clients("ssm"), settings.threshold_parameter)
    if threshold is None:
        raise CheckFailed(f"no threshold published at {settings.threshold_parameter}")
    entity, normal_ip, bad_ip = _canary_pairs(settings, clients, store, threshold, run_key)
    key, meta = _write_canary(settings, store, entity, (normal_ip, bad_ip), run_key)
    started = _announce(settings, clients, key, meta)
    parsed = parse_key(key)
    assert parsed is not None  # object_key wrote it
    out_key = findings_key(
        canary_findings_prefix(settings.canary_prefix),
        parsed,
        threshold.model_id,
    )
    found = _await_findings(settings, store, key, out_key, timeout_s, poll_s)
    result = CanaryResult(
        entity, normal_ip, bad_ip, store.uri(key), store.uri(out_key), time.monotonic() - started
    )
    anomalies = [f for f in found if dict(f["unmapped"])["lakewatch.kind"] == "anomalous_pair"]
    flagged = [f["observables"][1]["value"] for f in anomalies]
    result.findings = [{"ip": ip} for ip in flagged]
    if flagged != [bad_ip]:
        raise CheckFailed(
            f"expected exactly one finding, for ({entity}, {bad_ip}); got "
            f"{flagged or 'none'} in {result.findings_uri}"
        )
    return result


def _canary_pairs(
    settings: Settings,
    clients: ClientFactory,
    store: S3Store,
    threshold: PublishedThreshold,
    run_key: str,
) -> tuple[str, str, str]:
    """(instance, usual address, flagged address) from the pairs the threshold's model
    trained on (``choose_pairs``), scored against the outbound view's threshold."""
    record = Registry(store, settings.models_prefix).get(threshold.model_id)
    if record is None:
        raise CheckFailed(f"the threshold's model {threshold.model_id} is not registered")
    candidates = []
    for key in record.extra.get("train_parts", [])[:3]:
        for line in store.get(key).decode().splitlines()[:2000]:
            e, _, ip = line.partition(",")
            candidates.append((e, ip))
    runtime = clients("sagemaker-runtime")
    # the canary's pairs are outbound: with per-view thresholds, compare with that view's
    outbound = threshold.view_offsets.get("outbound", 0.0)
    return choose_pairs(
        runtime,
        settings.endpoint_name,
        threshold.threshold + outbound,
        candidates,
        int(digest(run_key), 16),
        DetectorCache(clients("s3"), settings.results_bucket_name, settings.models_prefix).get(
            threshold.model_id
        )
        if threshold.of_detector
        else None,
    )


def _write_canary(
    settings: Settings, store: S3Store, entity: str, ips: tuple[str, str], run_key: str
) -> tuple[str, dict[str, Any]]:
    """The canary VPC Flow object, one outbound flow of ``entity`` per address, under
    ``canary/`` in the results bucket: (its key, what the store returned)."""
    now = datetime.now(UTC)
    rows = [
        vpc_egress_row(
            instance_uid=entity,
            src_ip="10.255.255.1",
            dst_ip=ip,
            dst_port=443,
            time_ms=int(now.timestamp() * 1000) + i,
            account_id=settings.account_id,
            region=settings.region,
        )
        for i, ip in enumerate(ips)
    ]
    key = settings.canary_prefix + object_key(
        Source.VPC_FLOW,
        "2.0",
        settings.region,
        settings.account_id,
        now.date(),
        f"canary-{digest(run_key, 24)}.gz.parquet",
    )
    body = parquet_bytes(vpc_table(rows))
    return key, store.put(key, body)


def _announce(settings: Settings, clients: ClientFactory, key: str, meta: dict[str, Any]) -> float:
    """Announce the object on the subscriber queue as Security Lake would; returns when
    (``time.monotonic``), the start of the time the scorer takes."""
    queue_url = clients("sqs").get_queue_url(QueueName=settings.queue_name)["QueueUrl"]
    started = time.monotonic()
    notify.send(
        clients("sqs"),
        queue_url,
        [
            notify.object_created(
                settings.results_bucket_name,
                key,
                meta["size"],
                meta["etag"],
                settings.region,
                settings.account_id,
            )
        ],
    )
    return started


def _await_findings(
    settings: Settings, store: S3Store, key: str, out_key: str, timeout_s: float, poll_s: float
) -> list[dict[str, Any]]:
    """The scorer's findings for the canary at ``out_key``, polled until they appear;
    ``CheckFailed`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return pq.read_table(io.BytesIO(store.get(out_key))).to_pylist()
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") not in ("NoSuchKey", "404"):
                raise
        if time.monotonic() > deadline:
            raise CheckFailed(
                f"no findings for the canary s3://{settings.results_bucket_name}/"
                f"{key} after {timeout_s:.0f}s: is the scorer running?"
            )
        time.sleep(poll_s)


@dataclass
class QueueHealth:
    dlq_depth: int
    queue_depth: int
    mapping: str  # Enabled / Running, or what is wrong

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def queue_health(settings: Settings, clients: ClientFactory, mapping: str) -> QueueHealth:
    """The queues' depths beside ``mapping``, the state of what feeds the scorer (the
    backend's ``scorer_mapping_state``)."""
    sqs = clients("sqs")

    def depth(name: str) -> int:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        attrs = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"])

    return QueueHealth(depth(settings.dlq_name), depth(settings.queue_name), mapping)


def summary(result: CanaryResult) -> str:
    return json.dumps(asdict(result))
