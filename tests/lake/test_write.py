import io
import json
from datetime import date

import pyarrow.parquet as pq
import pytest

from lakewatch.cli import main
from lakewatch.lake.layout import parse_key
from lakewatch.lake.sink import LocalStore, S3Store, open_store
from lakewatch.lake.synthetic import GenerateOptions
from lakewatch.lake.write import read_labels, write_lake


def test_generate_into_emulator_with_notifications(aws, clients, capsys, monkeypatch):
    settings, res = aws
    monkeypatch.setenv("LAKEWATCH_EMULATOR_PORT", str(settings.emulator_port))
    rc = main(
        [
            "lake",
            "generate",
            "--out",
            f"s3://{settings.lake_bucket_name}",
            "--days",
            "1",
            "--start",
            "2026-11-01",
            "--rows-per-day",
            "3000",
            "--notify",
            res.queue_url,
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "rows/s" in out and "lateral_movement" in out
    s3, sqs = clients("s3"), clients("sqs")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=settings.lake_bucket_name)["Contents"]]
    data = [k for k in keys if parse_key(k)]
    truth = [k for k in keys if not parse_key(k)]
    assert data and all(k.startswith("aws/") and k.endswith(".gz.parquet") for k in data)
    assert truth and all(k.startswith("lakewatch-ground-truth/") for k in truth)
    body = s3.get_object(Bucket=settings.lake_bucket_name, Key=data[0])["Body"].read()
    assert pq.ParquetFile(io.BytesIO(body)).metadata.row_group(0).column(0).compression == "GZIP"

    messages = []
    while batch := sqs.receive_message(
        QueueUrl=res.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
    ).get("Messages"):
        messages += [json.loads(m["Body"]) for m in batch]
        sqs.delete_message_batch(
            QueueUrl=res.queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)
            ],
        )
    assert sorted(m["detail"]["object"]["key"] for m in messages) == sorted(data)
    sources = {parse_key(k).source for k in data}  # CloudTrail's objects are announced too
    assert sources == {"VPC_FLOW", "ROUTE53", "SH_FINDINGS", "CLOUD_TRAIL_MGMT"}
    assert all(
        m["detail-type"] == "Object Created"
        and m["source"] == "aws.s3"
        and m["detail"]["bucket"]["name"] == settings.lake_bucket_name
        for m in messages
    )


def test_local_folder_and_ground_truth(tmp_path):
    store = LocalStore(tmp_path)
    summary = write_lake(GenerateOptions(days=2, start=date(2026, 11, 1), rows_per_day=2000), store)
    assert summary.objects == len([k for k in store.list("aws/")])
    labels = read_labels(store)
    assert {label["kind"] for label in labels} == set(summary.labels)
    assert sum(summary.labels.values()) == len(labels)
    for label in labels[:20]:
        table = pq.read_table(tmp_path / label["key"])
        assert 0 <= label["row"] < table.num_rows
    world = json.loads((tmp_path / "lakewatch-ground-truth/world.json").read_text())
    assert len(world["instances"]) == 60
    assert not list(tmp_path.rglob(".tmp-*")), "temporary files left behind"


def test_notify_needs_s3(tmp_path):
    with pytest.raises(ValueError, match="s3://"):
        write_lake(
            GenerateOptions(days=1, rows_per_day=500), LocalStore(tmp_path), notifier=lambda m: 0
        )


def test_open_store_rejects_other_schemes(clients):
    assert isinstance(open_store("s3://bucket/prefix", clients), S3Store)
    with pytest.raises(ValueError, match="gs://"):
        open_store("gs://bucket", clients)


def test_world_manifest_names_cloudtrail_principals_and_their_usual_networks(tmp_path):
    store = LocalStore(tmp_path)
    options = GenerateOptions(
        days=1, start=date(2026, 11, 2), rows_per_day=2000, accounts=1, cloudtrail=True
    )
    summary = write_lake(options, store)
    assert summary.rows["CLOUD_TRAIL_MGMT"] > 0
    world = json.loads((tmp_path / "lakewatch-ground-truth/world.json").read_text())
    kinds = {p["kind"] for p in world["principals"]}
    assert kinds == {"person", "iam_user", "ci_role", "service_role"}
    assert all(
        p["networks"] and p["account_id"] == world["accounts"][0] for p in world["principals"]
    )
    truth = {
        label["entity"] for label in read_labels(store) if label["source"] == "CLOUD_TRAIL_MGMT"
    }
    assert truth and truth <= {p["principal"] for p in world["principals"]}
    assert "churn" not in world  # only a lake with churn lists its instances' ids by day
