"""Faults while the real-time scorer drains a day: nothing lost, nothing scored differently.

The handler runs under the local event source mapping, as in the demo, with its AWS calls and
its endpoint calls going through fault-injecting proxies. While it works, the object store
answers 503 SlowDown for a while, the endpoint answers ModelError, the model server is killed
(the router replaces it) and the queue holds malformed messages, a corrupt object and an
object whose bucket does not exist. Afterwards every notification is accounted for: scored
(with the same findings a fault-free pass produces) or in the DLQ with its reason.
"""

from __future__ import annotations

import io
import json
import signal
import time
from collections import defaultdict
from datetime import date

import psutil
import pyarrow.parquet as pq
import pytest

from lakewatch.backends import LocalBackend
from lakewatch.lake.notify import object_created
from lakewatch.lake.sink import S3Store
from lakewatch.lake.synthetic import GenerateOptions
from lakewatch.lake.write import write_lake
from lakewatch.local.endpoints import LocalEndpoints
from lakewatch.local.lambda_runtime import EventSourceMapping, load_handler
from lakewatch.local.processes import ProcessRegistry
from lakewatch.scoring.events import parse
from lakewatch.scoring.process import Scorer
from lakewatch.serving.lambda_config import APP_DIR, local_environment, scorer_config
from tests.reliability.chaos import Fault, FaultProxy, is_s3, s3_error

pytestmark = pytest.mark.e2e
DAY = date(2026, 11, 3)
MAX_RECEIVES = 6


def _flagged(s3, bucket: str, key: str) -> set[tuple[str, str, str, str]]:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    out = set()
    for f in pq.read_table(io.BytesIO(body)).to_pylist():
        meta = dict(f["unmapped"])
        out.add(
            (
                meta["lakewatch.kind"],
                meta.get("lakewatch.view") or meta["lakewatch.incident_shape"],  # incidents
                dict(f["evidences"][0]["data"])["entity"],
                f["observables"][1]["value"],
            )
        )
    return out


def _drain_dlq(sqs, url: str) -> dict[str, str]:
    """DLQ body -> the reason the handler attached."""
    out = {}
    while batch := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages"):
        for m in batch:
            attr = m.get("MessageAttributes", {}).get("lakewatch-error", {})
            out[m["Body"]] = attr.get("StringValue", "")
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)
            ],
        )
    return out


@pytest.fixture
def proxies(stack):
    settings, _ = stack
    aws, endpoint = (
        FaultProxy(settings.resolved_endpoint_url),
        FaultProxy(settings.model_server_url),
    )
    yield aws, endpoint
    aws.close()
    endpoint.close()


def test_every_notification_is_scored_or_dead_lettered_with_a_reason(
    stack, clients, proxies, monkeypatch
):
    settings, resources = stack
    sqs, s3 = clients("sqs"), clients("s3")
    aws_proxy, endpoint_proxy = proxies
    dlq_arn = sqs.get_queue_attributes(QueueUrl=resources.dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sqs.set_queue_attributes(
        QueueUrl=resources.queue_url,
        Attributes={
            "VisibilityTimeout": "1",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVES)}
            ),
        },
    )
    config = scorer_config(settings, clients)
    assert config.max_receive_count == MAX_RECEIVES  # read from the queue's redrive policy

    # the day's objects and their notifications, plus poison
    lake = settings.lake_bucket_name
    notes: list[dict] = []
    write_lake(
        GenerateOptions(days=1, start=DAY, rows_per_day=6000, seed=31),
        S3Store(s3, lake),
        notifier=lambda m: notes.extend(m) or len(m),
        account_id=settings.account_id,
    )
    keys = [parse(n).objects[0].key for n in notes]
    corrupt = keys[0].replace(".gz.parquet", "-corrupt.gz.parquet")
    s3.put_object(Bucket=lake, Key=corrupt, Body=b"PAR1 then nothing a reader could use")
    poison = {
        "{not json": "message body is not JSON",
        json.dumps({"detail": "no source"}): "not a Security Lake notification",
        json.dumps(object_created(lake, corrupt, 36, "e", "us-east-1", "1")): "cannot read as",
        # another bucket: never read, at once (the scorer reads only its lake)
        json.dumps(
            object_created("no-such-lake-bucket", keys[1], 1, "e", "us-east-1", "1")
        ): "is not the Security Lake bucket",
        # an object that never appears: retried until the last receive
        json.dumps(
            object_created(
                lake, keys[1].replace(".gz.parquet", "-gone.gz.parquet"), 1, "e", "us-east-1", "1"
            )
        ): f"gave up after {MAX_RECEIVES} receives",
    }
    valid = {json.dumps(n): k for n, k in zip(notes, keys, strict=True)}

    # what a fault-free pass finds, written under another prefix
    reference = Scorer(
        config.model_copy(update={"findings_prefix": "reference/"}),
        LocalBackend(settings).clients(),
    )
    results = [r for body in valid for r in reference.process_message(body)]
    # the lake's Security Hub objects are notified too, and skipped as not scored
    skipped = [r for r in results if r.skipped]
    assert skipped and all("/SH_FINDINGS/" in r.key and "not scored" in r.skipped for r in skipped)
    assert sum(r.anomalies for r in results) > 0

    # the handler's AWS and endpoint calls go through the proxies
    env = local_environment(settings, config)
    env["LAKEWATCH_AWS_ENDPOINT_URL"] = aws_proxy.url
    env["LAKEWATCH_RUNTIME_ENDPOINT_URL"] = endpoint_proxy.url
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    inner = load_handler(APP_DIR)
    outcomes: dict[str, list[str]] = defaultdict(list)

    def handler(event, context):
        try:
            response = inner(event, context)
        except Exception:
            for r in event["Records"]:
                outcomes[r["body"]].append("failed")
            raise
        failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        for r in event["Records"]:
            outcomes[r["body"]].append("failed" if r["messageId"] in failed else "done")
        return response

    # faults: S3 slows down for 6s; the endpoint fails 3 requests; its server dies mid-run
    aws_proxy.inject(
        Fault(
            is_s3,
            503,
            s3_error("SlowDown", "Please reduce your request rate."),
            {"Content-Type": "application/xml"},
            until=time.monotonic() + 6,
        )
    )
    endpoint_proxy.inject(
        Fault(
            lambda m, p, h: p.endswith("/invocations"),
            424,
            json.dumps({"message": "Received server error (500) from primary"}).encode(),
            {"Content-Type": "application/json", "x-amzn-ErrorType": "ModelError:"},
            times=3,
        )
    )
    endpoints = LocalEndpoints(settings)
    killed = []

    def kill_server(count: int) -> None:
        if count == 2 and not killed:
            record = endpoints.processes.get(
                endpoints.state(settings.endpoint_name)["active"]["process"]
            )
            psutil.Process(record.pid).send_signal(signal.SIGKILL)
            killed.append(record.pid)

    endpoint_proxy.on_forward = kill_server

    for body in [*valid, *poison]:
        sqs.send_message(QueueUrl=resources.queue_url, MessageBody=body)
    mapping = EventSourceMapping(
        sqs,
        resources.queue_url,
        handler,
        region=settings.region,
        account=settings.account_id,
        batch_size=4,
        batching_window_s=0.2,
    )
    stats = mapping.run(idle_exit_s=8, wait_s=1)

    # the faults happened
    assert aws_proxy.injected > 0 and endpoint_proxy.injected == 3
    assert killed, "the model server was never killed"
    active = endpoints.state(settings.endpoint_name)["active"]
    assert active.get("replaced"), "the router did not replace the dead model server"
    assert ProcessRegistry(settings.run_dir).get(active["process"]).pid != killed[0]
    assert any("failed" in outcomes[b] for b in valid), "no valid message was ever retried"

    # nothing is left, nothing was lost: each message ended once, scored or dead-lettered
    attrs = sqs.get_queue_attributes(QueueUrl=resources.queue_url, AttributeNames=["All"])
    assert attrs["Attributes"]["ApproximateNumberOfMessages"] == "0"
    assert attrs["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "0"
    assert set(outcomes) == set(valid) | set(poison)
    assert all(o[-1] == "done" and o.count("done") == 1 for o in outcomes.values()), outcomes
    assert stats.deleted == len(valid) + len(poison)
    dead = _drain_dlq(sqs, resources.dlq_url)
    assert set(dead) == set(poison), sorted(dead)
    for body, why in poison.items():
        assert why in dead[body], (why, dead[body])

    # every valid object was scored once faults cleared, with the fault-free pass's findings
    def findings(prefix: str) -> set[str]:
        listing = s3.list_objects_v2(Bucket=settings.results_bucket_name, Prefix=prefix)
        return {
            o["Key"].removeprefix(prefix)
            for o in listing.get("Contents", [])
            if o["Key"].endswith(".parquet")
        }

    reference_files, live_files = findings("reference/"), findings(settings.findings_prefix)
    assert live_files == reference_files
    for name in live_files:
        assert _flagged(s3, settings.results_bucket_name, settings.findings_prefix + name) == (
            _flagged(s3, settings.results_bucket_name, "reference/" + name)
        ), name
