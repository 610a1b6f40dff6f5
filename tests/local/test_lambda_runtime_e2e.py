"""The local runtime drains the subscriber queue like Lambda's SQS mapping; nothing is lost."""

import io
import json
from datetime import date

import pyarrow.parquet as pq
import pytest

from lakewatch.demo.evaluate import flagged_pairs, labelled_pairs
from lakewatch.lake.notify import object_created, send
from lakewatch.lake.sink import S3Store
from lakewatch.lake.synthetic import GenerateOptions
from lakewatch.lake.write import read_labels, write_lake
from lakewatch.local.lambda_runtime import EventSourceMapping, load_handler
from lakewatch.serving.lambda_config import APP_DIR, local_environment, scorer_config

pytestmark = pytest.mark.e2e
DAY = date(2026, 11, 3)


def _depth(sqs, url):
    attrs = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(
        attrs["ApproximateNumberOfMessagesNotVisible"]
    )


def test_drain_with_redrive_and_findings_against_ground_truth(stack, clients, monkeypatch):
    settings, resources = stack
    sqs, s3 = clients("sqs"), clients("s3")
    sqs.set_queue_attributes(QueueUrl=resources.queue_url, Attributes={"VisibilityTimeout": "1"})
    for k, v in local_environment(settings, scorer_config(settings, clients)).items():
        monkeypatch.setenv(k, v)
    store = S3Store(s3, settings.lake_bucket_name)
    summary = write_lake(
        GenerateOptions(days=1, start=DAY, rows_per_day=6000, seed=31),
        store,
        notifier=lambda m: send(sqs, resources.queue_url, m),
        account_id=settings.account_id,
    )
    lake = settings.lake_bucket_name
    missing = (
        "aws/VPC_FLOW/2.0/region=us-east-1/accountId=123456789012/eventDay=20261103/"
        "0000-never-written.gz.parquet"
    )
    s3.put_object(Bucket=lake, Key=missing.replace("0000-never", "0001-corrupt"), Body=b"junk")
    send(
        sqs,
        resources.queue_url,
        [
            {"not": "a notification"},
            object_created(lake, missing, 1, "e", "us-east-1", "1"),
            object_created(
                lake, missing.replace("0000-never", "0001-corrupt"), 1, "e", "us-east-1", "1"
            ),
        ],
    )
    sent = summary.notified + 3

    mapping = EventSourceMapping(
        sqs,
        resources.queue_url,
        load_handler(APP_DIR),
        region="us-east-1",
        account="123456789012",
        batch_size=10,
        batching_window_s=0.2,
    )
    stats = mapping.run(idle_exit_s=6, wait_s=1)
    # batches where every record failed come back whole (powertools raises, as in Lambda):
    # here only the missing object's retries
    assert all("never-written" in e for e in stats.failed_invocations), stats.failed_invocations
    assert _depth(sqs, resources.queue_url) == 0

    dead = []
    while batch := sqs.receive_message(
        QueueUrl=resources.dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages"):
        dead += batch
        sqs.delete_message_batch(
            QueueUrl=resources.dlq_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)
            ],
        )
    reasons = sorted(
        m.get("MessageAttributes", {})
        .get("lakewatch-error", {})
        .get("StringValue", "redriven after maxReceiveCount")
        for m in dead
    )
    # exactly the poison messages: two dead-lettered at once, the missing object on its last
    # receive (the queue's maxReceiveCount), each with its reason
    assert len(dead) == 3, reasons
    assert any("not a Security Lake notification" in r for r in reasons)
    assert any("cannot read as Parquet" in r for r in reasons)
    assert any(
        r.startswith(f"gave up after {settings.max_receive_count} receives")
        and "never-written" in r
        for r in reasons
    ), reasons
    # every notification is accounted for: processed (or dead-lettered) and deleted
    assert stats.deleted == sent

    keys = [
        o["Key"]
        for o in s3.list_objects_v2(Bucket=settings.results_bucket_name, Prefix="ext/lakewatch/")[
            "Contents"
        ]
    ]
    findings = [
        f
        for key in keys
        for f in pq.read_table(
            io.BytesIO(s3.get_object(Bucket=settings.results_bucket_name, Key=key)["Body"].read())
        ).to_pylist()
    ]
    flagged = flagged_pairs(findings)
    truth = labelled_pairs(read_labels(store, day=DAY.strftime("%Y%m%d")))
    every = set().union(*truth.values())
    recall = {kind: len(pairs & flagged) / len(pairs) for kind, pairs in truth.items()}
    precision = len(flagged & every) / max(len(flagged), 1)
    print(
        f"precision {precision:.2f} over {len(flagged)} flagged pairs; recall "
        + json.dumps({k: round(v, 2) for k, v in recall.items()})
    )
    external = {
        p
        for kind in ("c2_beacon", "exfiltration", "rare_domain")
        for p in truth[kind]
        if p[0] in ("egress_peer", "dns_answer")
    }
    # the small test model misses some low-activity instances' contacts (their vectors barely
    # moved from initialisation); bench/quality.py measures the full-size model
    assert len(external & flagged) / len(external) >= 0.6, (recall, precision)
    assert all(recall[kind] > 0 for kind in truth), recall
    assert precision > 0.05  # a 1% false-positive rate on a small test model
