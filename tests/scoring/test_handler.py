"""The Lambda handler (include/lambda/ipcheck/app.py) on a real batch, against the emulator."""

import inspect
import io
import json
from datetime import date

import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError

from lakewatch.lake.layout import Source, parse_key
from lakewatch.lake.notify import object_created, s3_records, sns_wrapped
from lakewatch.lake.synthetic import GenerateOptions, LakeGenerator
from lakewatch.lake.write import parquet_bytes
from lakewatch.local.lambda_runtime import LambdaContext, load_handler
from lakewatch.scoring.storage import findings_key
from lakewatch.serving.lambda_config import APP_DIR, local_environment, scorer_config


@pytest.fixture
def handler(stack, clients, monkeypatch):
    settings, _ = stack
    for k, v in local_environment(settings, scorer_config(settings, clients, pairs=None)).items():
        monkeypatch.setenv(k, v)
    return settings, load_handler(APP_DIR)


def _put_day_objects(clients, bucket, day=date(2026, 11, 3)):
    """Objects of one day with injected anomalies, as Security Lake would write them."""
    gen = LakeGenerator(GenerateOptions(days=1, start=day, rows_per_day=4000, seed=31))
    objects = []
    for obj in gen.objects():
        clients("s3").put_object(Bucket=bucket, Key=obj.key, Body=parquet_bytes(obj.table))
        objects.append(obj)
    return objects


def _record(i, body):
    return {
        "messageId": f"m{i}",
        "receiptHandle": f"r{i}",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1",
            "SenderId": "s",
            "ApproximateFirstReceiveTimestamp": "1",
        },
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
        "awsRegion": "us-east-1",
    }


def test_batch_with_every_shape_and_bad_input(handler, clients):
    settings, handle = handler
    lake = settings.lake_bucket_name
    s3 = clients("s3")
    objects = _put_day_objects(clients, lake)
    vpc = next(o for o in objects if o.source is Source.VPC_FLOW and o.labels)
    dns = next(o for o in objects if o.source is Source.ROUTE53)
    corrupt = vpc.key.replace(".gz.parquet", "-corrupt.gz.parquet")
    s3.put_object(Bucket=lake, Key=corrupt, Body=b"definitely not parquet")
    missing = vpc.key.replace(".gz.parquet", "-missing.gz.parquet")
    records = [
        _record(0, json.dumps(object_created(lake, vpc.key, 1, "e", "us-east-1", "1"))),
        _record(1, json.dumps(s3_records(lake, dns.key, 1, "e", "us-east-1"))),
        _record(
            2,
            json.dumps(
                sns_wrapped(
                    object_created(lake, vpc.key, 1, "e", "us-east-1", "1"),
                    "arn:aws:sns:us-east-1:1:t",
                )
            ),
        ),
        _record(3, '{"Service": "Amazon S3", "Event": "s3:TestEvent"}'),
        _record(4, "{this is not json"),  # poison: straight to the DLQ
        _record(5, json.dumps(object_created(lake, corrupt, 1, "e", "us-east-1", "1"))),
        _record(6, json.dumps(object_created(lake, missing, 1, "e", "us-east-1", "1"))),
        _record(
            7,
            json.dumps(
                object_created(
                    lake,
                    "aws/VPC_FLOW/2.0/metadata/00001-x.metadata.json",
                    1,
                    "e",
                    "us-east-1",
                    "1",
                )
            ),
        ),
        _record(
            8,
            json.dumps(
                object_created(
                    lake,
                    # a source the subscriber does not carry (CloudTrail is on its queue:
                    # skipped, or scored with the signin view: test_process.py)
                    "aws/EKS_AUDIT/2.0/region=us-east-1/accountId=123456789012/"
                    "eventDay=20261103/x.gz.parquet",
                    1,
                    "e",
                    "us-east-1",
                    "1",
                )
            ),
        ),
    ]
    response = handle(
        {"Records": records}, LambdaContext("scorer", "us-east-1", "123456789012", 60)
    )
    # only the missing object can succeed later: it alone goes back to the queue
    assert response == {"batchItemFailures": [{"itemIdentifier": "m6"}]}

    dlq = clients("sqs").get_queue_url(QueueName=settings.dlq_name)["QueueUrl"]
    dead = clients("sqs").receive_message(
        QueueUrl=dlq, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )["Messages"]
    reasons = {
        m["MessageAttributes"]["lakewatch-source-message-id"]["StringValue"]: m[
            "MessageAttributes"
        ]["lakewatch-error"]["StringValue"]
        for m in dead
    }
    # a source lakewatch does not subscribe to is poison, not skipped; Iceberg metadata under
    # a subscribed source's folder is skipped (record 7)
    assert set(reasons) == {"m4", "m5", "m8"}
    assert "not JSON" in reasons["m4"] and "cannot read as Parquet" in reasons["m5"]
    assert "EKS_AUDIT" in reasons["m8"] and "not under a source lakewatch reads" in (reasons["m8"])

    keys = [
        o["Key"]
        for o in s3.list_objects_v2(
            Bucket=settings.results_bucket_name, Prefix="ext/lakewatch/"
        ).get("Contents", [])
    ]
    assert keys and all("/eventDay=20261103/" in k and k.endswith(".parquet") for k in keys)
    findings = [
        f
        for k in keys
        for f in pq.read_table(
            io.BytesIO(s3.get_object(Bucket=settings.results_bucket_name, Key=k)["Body"].read())
        ).to_pylist()
    ]
    flagged = {
        (
            dict(f["unmapped"])["lakewatch.view"],
            f["resources"][0]["uid"],
            f["observables"][1]["value"],
        )
        for f in findings
        if dict(f["unmapped"])["lakewatch.kind"] == "anomalous_pair"
    }
    labelled = {(lb.view, lb.entity, lb.ip) for lb in vpc.labels}
    assert flagged & labelled, "no injected anomaly of the object was flagged"
    # the VPC object, notified twice (records 0 and 2), has exactly its one findings file
    threshold = json.loads(
        clients("ssm").get_parameter(Name=settings.threshold_parameter)["Parameter"]["Value"]
    )
    expected = findings_key("ext/lakewatch/", parse_key(vpc.key), threshold["model_id"])
    assert expected in keys and len(keys) <= 2  # the VPC object's file, and the DNS object's


def test_missing_configuration_is_explained(monkeypatch):
    from lakewatch.scoring.process import ScorerConfig

    with pytest.raises(ValueError, match="LAKEWATCH_ENDPOINT_NAME"):
        ScorerConfig.from_env({"LAKEWATCH_RESULTS_BUCKET": "b"})


@pytest.fixture
def scorer_logs():
    """The scorer's log records, as dicts of their fields (level, message, extra keys)."""
    import logging

    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    keep = Keep(level=logging.DEBUG)
    logger = logging.getLogger("lakewatch-scorer")
    logger.addHandler(keep)
    yield lambda: [{"level": r.levelname, **vars(r)} for r in records]
    logger.removeHandler(keep)


def _metrics(out: str) -> dict[str, float]:
    """The EMF metrics the handler printed."""
    metrics = {}
    for line in out.splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if "_aws" in doc:
            for m in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
                value = doc[m["Name"]]
                metrics[m["Name"]] = sum(value) if isinstance(value, list) else value
    return metrics


def _dlq_reasons(clients, settings) -> dict[str, str]:
    dlq = clients("sqs").get_queue_url(QueueName=settings.dlq_name)["QueueUrl"]
    dead = (
        clients("sqs")
        .receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
        .get("Messages", [])
    )
    return {
        m["MessageAttributes"]["lakewatch-source-message-id"]["StringValue"]: m[
            "MessageAttributes"
        ]["lakewatch-error"]["StringValue"]
        for m in dead
    }


CTX = LambdaContext("scorer", "us-east-1", "123456789012", 60)


def test_deeply_nested_json_is_poison_with_a_reason(handler, clients, capsys, scorer_logs):
    settings, handle = handler
    deep = "[" * 5000 + "]" * 5000
    body = '{"detail": ' + deep + "}"
    capsys.readouterr()
    assert handle({"Records": [_record(0, body)]}, CTX) == {"batchItemFailures": []}
    metrics, logs = _metrics(capsys.readouterr().out), scorer_logs()
    reason = _dlq_reasons(clients, settings)["m0"]
    assert "cannot parse the message: RecursionError" in reason
    assert metrics.get("PoisonMessages") == 1
    assert any(line["level"] == "ERROR" and line.get("message_id") == "m0" for line in logs)


def test_a_whole_batch_failing_transiently_is_returned_logged_and_counted(
    handler, clients, capsys, scorer_logs
):
    settings, handle = handler
    missing = (
        "aws/VPC_FLOW/2.0/region=us-east-1/accountId=123456789012/eventDay=20261103/"
        "not-written-yet.gz.parquet"
    )
    event = {
        "Records": [
            _record(
                i,
                json.dumps(
                    object_created(settings.lake_bucket_name, missing, 1, "e", "us-east-1", "1")
                ),
            )
            for i in range(2)
        ]
    }
    capsys.readouterr()
    response = handle(event, CTX)  # an outage: every record fails, nothing raises
    assert response == {"batchItemFailures": [{"itemIdentifier": "m0"}, {"itemIdentifier": "m1"}]}
    metrics, logs = _metrics(capsys.readouterr().out), scorer_logs()
    assert metrics.get("FailedItems") == 2
    errors = [line for line in logs if line["level"] == "ERROR"]
    assert {line["message_id"] for line in errors} == {"m0", "m1"}
    for line in errors:
        assert line["object"] == f"s3://{settings.lake_bucket_name}/{missing}"
        assert "does not exist (yet)" in line["error"]
    assert _dlq_reasons(clients, settings) == {}  # nothing lost: both go back to the queue


def test_a_redelivery_after_a_threshold_republish_writes_no_second_copy(
    stack, clients, monkeypatch
):
    settings, _ = stack
    monkeypatch.setenv("LAKEWATCH_THRESHOLD_TTL_S", "0")
    for k, v in local_environment(settings, scorer_config(settings, clients, pairs=None)).items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("LAKEWATCH_THRESHOLD_TTL_S", "0")
    handle = load_handler(APP_DIR)
    objects = _put_day_objects(clients, settings.lake_bucket_name, day=date(2026, 11, 4))
    vpc = next(o for o in objects if o.source is Source.VPC_FLOW and o.labels)
    body = json.dumps(object_created(settings.lake_bucket_name, vpc.key, 1, "e", "us-east-1", "1"))
    s3, ssm = clients("s3"), clients("ssm")

    def findings_files():
        return sorted(
            o["Key"]
            for o in s3.list_objects_v2(
                Bucket=settings.results_bucket_name, Prefix="ext/lakewatch/"
            ).get("Contents", [])
            if "/eventDay=20261104/" in o["Key"]
        )

    assert handle({"Records": [_record(0, body)]}, CTX) == {"batchItemFailures": []}
    first = findings_files()
    assert first
    param = ssm.get_parameter(Name=settings.threshold_parameter)["Parameter"]
    ssm.put_parameter(
        Name=settings.threshold_parameter, Value=param["Value"], Type="String", Overwrite=True
    )  # a re-publish (or a rollback): a new SSM version of the same threshold
    assert handle({"Records": [_record(1, body)]}, CTX) == {"batchItemFailures": []}
    assert findings_files() == first


def test_a_dlq_reason_keeps_the_error_and_shortens_a_long_key(handler, clients):
    settings, handle = handler
    long_key = (
        "aws/VPC_FLOW/2.0/region=us-east-1/accountId=123456789012/eventDay=20261103/"
        + "x" * 1400
        + ".gz.parquet"
    )
    record = _record(
        0, json.dumps(object_created(settings.lake_bucket_name, long_key, 1, "e", "us-east-1", "1"))
    )
    record["attributes"]["ApproximateReceiveCount"] = str(settings.max_receive_count)
    assert handle({"Records": [record]}, CTX) == {"batchItemFailures": []}
    reason = _dlq_reasons(clients, settings)["m0"]
    assert len(reason) <= 1000
    assert reason.startswith(f"gave up after {settings.max_receive_count} receives: s3://")
    assert reason.endswith("does not exist (yet)")
    assert "\u2026" in reason and reason.count("x") < 1400


def test_findings_security_hub_refuses_are_counted_and_logged_not_retried(
    stack, clients, monkeypatch, capsys, scorer_logs
):
    """With the import on, the function counts what it imported; a Security Hub that refuses
    (disabled, say) is a warning and a FindingsNotImported count: the message succeeds, its
    findings stored."""
    settings, _ = stack
    on = settings.model_copy(update={"security_hub_findings": True})
    for k, v in local_environment(on, scorer_config(on, clients, pairs=None)).items():
        monkeypatch.setenv(k, v)
    handle = load_handler(APP_DIR)
    objects = _put_day_objects(clients, settings.lake_bucket_name, day=date(2026, 11, 6))
    vpc = next(o for o in objects if o.source is Source.VPC_FLOW and o.labels)
    body = json.dumps(object_created(settings.lake_bucket_name, vpc.key, 1, "e", "us-east-1", "1"))
    capsys.readouterr()
    assert handle({"Records": [_record(0, body)]}, CTX) == {"batchItemFailures": []}
    metrics = _metrics(capsys.readouterr().out)
    assert metrics["FindingsImported"] > 0 and metrics["FindingsNotImported"] == 0

    # the function's own scorer (its module's), whose Security Hub now refuses
    scorer = inspect.unwrap(handle).__globals__["scorer"]()
    real = scorer.clients

    class Disabled:
        def batch_import_findings(self, **kwargs):
            raise ClientError(
                {"Error": {"Code": "InvalidAccessException", "Message": "not subscribed"}},
                "BatchImportFindings",
            )

    monkeypatch.setattr(scorer, "clients", lambda s: Disabled() if s == "securityhub" else real(s))
    monkeypatch.setattr(scorer, "_security_hub", None)
    assert handle({"Records": [_record(1, body)]}, CTX) == {"batchItemFailures": []}
    metrics, logs = _metrics(capsys.readouterr().out), scorer_logs()
    assert metrics["FindingsImported"] == 0
    assert metrics["FindingsNotImported"] > 0
    warned = [line for line in logs if line["level"] == "WARNING"]
    assert warned and warned[-1]["error"].startswith("InvalidAccessException")
    assert _dlq_reasons(clients, settings) == {}
