"""A sign-in anomaly end to end on the emulator: a synthetic lake's CloudTrail object with an
injected ``signin_new_network`` sign-in, notified on the subscriber's queue, scored by a scorer
whose pair set has the signin view, is a stored "Sign-in from an unusual address" finding and a
step-up event on the EventBridge bus, delivered to the SQS queue behind it. Bad records are
counted and skipped; an EventBridge outage is counted, never raised, and the finding stays.

The endpoint is a stand-in that knows what the first two days' sign-ins were (an entity and the
/16s it signed in from), the way a model trained on them would: the scorer's wiring is under
test here, not the model (the model and threshold for the signin view are issue 29 item 3's)."""

from __future__ import annotations

import io
import json
import uuid
from datetime import date, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from botocore.exceptions import ClientError

from lakewatch.backends import LocalBackend
from lakewatch.extract.export import PairSet
from lakewatch.extract.signin import sign_in, signin_schema
from lakewatch.lake.layout import Source, parse_key
from lakewatch.lake.notify import object_created
from lakewatch.lake.sink import S3Store
from lakewatch.lake.synthetic import GenerateOptions, LakeGenerator
from lakewatch.lake.validate import validate_record
from lakewatch.lake.write import parquet_bytes
from lakewatch.local.bootstrap import read_step_up_events
from lakewatch.review.rows import read_day
from lakewatch.scoring.pairs import object_pairs
from lakewatch.scoring.process import ObjectResult, Scorer
from lakewatch.scoring.signin_findings import TITLE
from lakewatch.serving.lambda_config import scorer_config

START = date(2026, 11, 1)
SIGNIN = PairSet(("signin",))


def _slash16(ip: str) -> str:
    return ".".join(ip.split(".")[:2])


class _KnowsTheSignIns:
    """A SageMaker runtime standing in for a model trained on ``known`` (entity, /16) pairs:
    1.0 for a pair it saw, -1.0 for one it did not, ``known_entity`` for its entities."""

    def __init__(self, known: set[tuple[str, str]]):
        self.known = known
        self.entities = {e for e, _ in known}

    def invoke_endpoint(self, EndpointName, Body, ContentType, Accept):
        preds = []
        for line in Body.decode().splitlines():
            entity, ip = line.rsplit(",", 1)
            seen = (entity, _slash16(ip)) in self.known
            preds.append(
                {"dot_product": 1.0 if seen else -1.0, "known_entity": entity in self.entities}
            )
        return {"Body": io.BytesIO(json.dumps({"predictions": preds}).encode())}


@pytest.fixture(scope="module")
def lake():
    """Three days of a lake with CloudTrail: the first two trained on, the third scored."""
    gen = LakeGenerator(
        GenerateOptions(days=3, start=START, rows_per_day=10_000, seed=11, cloudtrail=True)
    )
    objects = [o for o in gen.objects() if o.source is Source.CLOUD_TRAIL_MGMT]
    known: set[tuple[str, str]] = set()
    for obj in objects:
        key = parse_key(obj.key)
        if key.day >= START + timedelta(days=2):
            continue
        out = object_pairs(parquet_bytes(obj.table), key, SIGNIN, "us-east-1").pairs
        ok = out.filter(pc.equal(out["status"], "ok"))
        known |= {
            (e, _slash16(ip))
            for e, ip in zip(ok["entity"].to_pylist(), ok["ip"].to_pylist(), strict=True)
        }
    scored = [
        o
        for o in objects
        if parse_key(o.key).day == START + timedelta(days=2)
        and any(label.kind == "signin_new_network" for label in o.labels)
    ]
    assert known and scored
    return known, scored[0]


@pytest.fixture
def signin_stack(aws, clients):
    """This test's bus (with its rule and inbox queue) and threshold, and the scorer's config
    for the signin view."""
    settings, _ = aws
    tag = uuid.uuid4().hex[:8]
    settings = settings.model_copy(
        update={
            "step_up_event_bus": f"lakewatch-step-up-{tag}",
            "threshold_parameter": f"/lakewatch/{tag}/threshold",
        }
    )
    LocalBackend(settings).provision(clients)
    clients("ssm").put_parameter(
        Name=settings.threshold_parameter,
        Type="String",
        Overwrite=True,
        Value=json.dumps(
            {"threshold": 0.0, "model_id": "ipi-signin", "day": "2026-11-02", "target_fpr": 0.01}
        ),
    )
    config = scorer_config(settings, clients, pairs=SIGNIN.key)
    assert config.step_up_event_bus == settings.step_up_event_bus
    return settings, config


def _scorer(config, known, clients, events=None) -> Scorer:
    """A scorer on the emulator's clients, the stand-in endpoint, and ``events`` for
    EventBridge when given."""
    runtime = _KnowsTheSignIns(known)

    def factory(service):
        if service == "sagemaker-runtime":
            return runtime
        if service == "events" and events is not None:
            return events
        return clients(service)

    return Scorer(config, factory)


def _expected_mfa(obj, entity: str, ip: str) -> str:
    """The pair's MFA by the view's Python twin: any sign-in without -> false."""
    flags = [
        s.is_mfa
        for s in (sign_in(r, "2.0") for r in obj.table.to_pylist() if r["class_uid"] == 3002)
        if (s.entity, s.ip, s.status) == (entity, ip, "ok")
    ]
    if any(f is False for f in flags):
        return "false"
    return "true" if any(f is True for f in flags) else "unknown"


def test_an_injected_signin_is_a_finding_and_a_step_up_event(signin_stack, clients, lake):
    settings, config = signin_stack
    known, obj = lake
    clients("s3").put_object(
        Bucket=settings.lake_bucket_name, Key=obj.key, Body=parquet_bytes(obj.table)
    )
    message = json.dumps(
        object_created(settings.lake_bucket_name, obj.key, 1, "e", "us-east-1", "1")
    )
    [result] = _scorer(config, known, clients).process_message(message)
    assert not result.skipped and result.findings and result.anomalies >= 1
    assert result.dropped.get("service", 0) > 0  # AWS services' calls: counted, not paired

    day = parse_key(obj.key).day
    stored = read_day(
        S3Store(clients("s3"), settings.results_bucket_name), settings.findings_prefix, day
    )
    label = next(label for label in obj.labels if label.kind == "signin_new_network")
    [finding] = [
        f
        for f in stored
        if dict(f["unmapped"]).get("lakewatch.principal") == label.entity
        and dict(f["unmapped"]).get("lakewatch.address") == label.ip
    ]
    unmapped = dict(finding["unmapped"])
    assert validate_record(finding, "1.1.0") == []
    assert finding["finding_info"]["title"].startswith(TITLE)
    assert unmapped["lakewatch.view"] == "signin"
    assert unmapped["lakewatch.kind"] == "anomalous_pair"
    assert unmapped["lakewatch.mfa"] == _expected_mfa(obj, label.entity, label.ip)
    assert finding["evidences"][0]["actor"]["user"]["uid"] == label.entity
    assert finding["resources"][0]["uid"] == label.entity

    unusual = [f for f in stored if dict(f["unmapped"])["lakewatch.kind"] == "anomalous_pair"]
    assert (result.step_up_sent, result.step_up_not_sent) == (len(unusual), 0)
    events = read_step_up_events(clients("sqs"), settings, wait_s=2)
    assert len(events) == len(unusual)
    [event] = [e for e in events if e["detail"]["finding_uid"] == finding["finding_info"]["uid"]]
    assert (event["source"], event["detail-type"]) == ("lakewatch", "Unusual sign-in")
    detail = event["detail"]
    assert (detail["principal"], detail["address"]) == (label.entity, label.ip)
    assert detail["score"] == -1.0 and detail["threshold"] == 0.0
    assert (
        detail["mfa"] == {"true": True, "false": False, "unknown": None}[unmapped["lakewatch.mfa"]]
    )


def test_without_the_signin_view_cloudtrail_is_skipped_as_before(signin_stack, clients, lake):
    settings, config = signin_stack
    known, obj = lake
    network = config.model_copy(update={"pairs": PairSet().key})
    message = json.dumps(
        object_created(settings.lake_bucket_name, obj.key, 1, "e", "us-east-1", "1")
    )
    [result] = _scorer(network, known, clients).process_message(message)
    assert "not scored in real time" in result.skipped and "signin" in result.skipped


class _Outage:
    def __init__(self):
        self.calls = 0

    def put_events(self, Entries):
        self.calls += 1
        raise ClientError(
            {
                "Error": {"Code": "InternalFailure", "Message": "down"},
                "ResponseMetadata": {"HTTPStatusCode": 500},
            },
            "PutEvents",
        )


def test_an_eventbridge_outage_is_counted_and_the_finding_kept(signin_stack, clients, lake):
    settings, config = signin_stack
    known, obj = lake
    clients("s3").put_object(
        Bucket=settings.lake_bucket_name, Key=obj.key, Body=parquet_bytes(obj.table)
    )
    outage = _Outage()
    message = json.dumps(
        object_created(settings.lake_bucket_name, obj.key, 1, "e", "us-east-1", "1")
    )
    [result] = _scorer(config, known, clients, events=outage).process_message(message)  # no raise
    assert result.findings and result.anomalies >= 1
    assert result.step_up_sent == 0 and result.step_up_not_sent == result.anomalies
    assert result.step_up_error.startswith("InternalFailure") and outage.calls == 3  # retried
    assert read_step_up_events(clients("sqs"), settings) == []
    stored = read_day(
        S3Store(clients("s3"), settings.results_bucket_name),
        settings.findings_prefix,
        parse_key(obj.key).day,
    )
    assert any(dict(f["unmapped"])["lakewatch.view"] == "signin" for f in stored)
    off = config.model_copy(update={"step_up_event_bus": ""})
    [quiet] = _scorer(off, known, clients, events=outage).process_message(message)
    assert outage.calls == 3 and quiet.step_up_not_sent == 0  # no bus: EventBridge never asked


def _record(version="2.0", **over):
    rec = {
        "metadata": {"version": "1.1.0"},
        "time": 0,
        "time_dt": None,
        "class_uid": 3002,
        "actor": {
            "user": {
                "type": "AssumedRole",
                "name": "ci",
                "uid": "arn:aws:sts::123456789012:assumed-role/ci/run-1",
                "uid_alt": "AROA:run-1",
                "account": {"uid": "123456789012"},
                "credential_uid": "ASIA",
            }
        },
        "user": None,
        "src_endpoint": {"uid": None, "ip": "198.51.100.7", "domain": None},
        "status": "Success",
        "status_id": 1,
        "is_mfa": False,
    }
    for k, v in over.items():
        rec[k] = v
    return rec


def test_bad_signin_records_are_counted_and_skipped_never_a_failed_batch(
    signin_stack, clients, lake
):
    """No address, a service's name, an unknown actor, an OCSF version the reader does not
    know: each counted by reason in the object's result (the DroppedPairs metric), the good
    record scored, no exception."""
    from datetime import UTC, datetime

    settings, config = signin_stack
    known, _ = lake
    t = datetime.combine(START, datetime.min.time(), UTC) + timedelta(hours=1)
    ms = int(t.timestamp() * 1000)
    records = [
        _record(),
        _record(src_endpoint={"uid": None, "ip": None, "domain": None}),
        _record(src_endpoint={"uid": None, "ip": None, "domain": "ec2.amazonaws.com"}),
        _record(actor={"user": {"type": "AWSService", "name": "x", "uid": None}}),
        _record(metadata={"version": "1.0.0-rc.2"}),
    ]
    for r in records:
        r["time"], r["time_dt"] = ms, t
    table = pa.Table.from_pylist(records, schema=signin_schema("2.0"))
    key = parse_key(
        "aws/CLOUD_TRAIL_MGMT/2.0/region=us-east-1/accountId=123456789012/"
        f"eventDay={START:%Y%m%d}/bad.gz.parquet"
    )
    result = ObjectResult(settings.lake_bucket_name, key.key)
    scored = _scorer(config, known, clients).score_object(
        parquet_bytes(table), key, settings.lake_bucket_name, result
    )
    assert result.rows == 5 and result.pairs == 1
    assert result.dropped == {
        "no_address": 1,
        "service": 1,
        "unknown_actor": 1,
        "unknown_version": 1,
    }
    # the good record: a role never seen, so an unknown principal's finding (no step-up)
    assert [dict(f["unmapped"])["lakewatch.principal"] for f in scored.findings] == [
        "arn:aws:iam::123456789012:role/ci"
    ]
    # an object without the optional columns (no MFA, status or target user) reads the same
    slim = table.drop_columns(["is_mfa", "status", "status_id", "user"])
    again = ObjectResult(settings.lake_bucket_name, key.key)
    _scorer(config, known, clients).score_object(
        parquet_bytes(slim), key, settings.lake_bucket_name, again
    )
    assert again.dropped == result.dropped and again.pairs == 1
