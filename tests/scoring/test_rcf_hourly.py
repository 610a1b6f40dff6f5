"""The hourly RCF step end to end on the local backend's pieces: a closed hour of a generated
lake whose objects hold 25-minute pieces (as real Security Lake objects hold minutes, so the
real-time scorer's step finds no whole hour in any), its rows by ``rcf_features.sql`` on the
local backend's DuckDB over the emulator's lake bucket, a forest behind a SageMaker-shaped
endpoint, the threshold in SSM and the profile beside the model: the injected hours found,
written in the findings' layout, imported, alerted once (not those the real-time scorer
alerted from an object that held the hour whole), and a rerun rewriting the same files and
alerting nothing."""

import io
import json
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError

from lakewatch.backends import backend_for
from lakewatch.extract import rcf_features as rf
from lakewatch.extract.engine import DuckAthena, LakeLocation
from lakewatch.extract.views import QueryContext
from lakewatch.lake.layout import Source, parse_key
from lakewatch.lake.sink import S3Store
from lakewatch.lake.synthetic import GenerateOptions, LakeGenerator
from lakewatch.model.rcf.forest import fit
from lakewatch.model.rcf.hyperparameters import RcfHyperparameters
from lakewatch.names import alert_marker_key, artifact_key, rcf_threshold_parameter
from lakewatch.review.rows import read_day
from lakewatch.scoring import rcf_hourly
from lakewatch.scoring.pair_findings import instance_of
from lakewatch.scoring.process import alert_findings
from lakewatch.scoring.rcf_incidents import join_rcf
from lakewatch.scoring.rcf_scoring import EndpointRcf, RcfObjectScorer
from lakewatch.serving.lambda_config import settings_config
from lakewatch.threshold.rcf import evaluate_rcf

DAYS = 4
START = datetime(2026, 11, 1, tzinfo=UTC)
LAST = (START + timedelta(days=DAYS - 1)).date()
HOUR_MS = 3_600_000
PIECE_MS = 25 * 60_000  # a lake object's span here: minutes, never a whole hour
MODEL = "rcf-20261104-hourly"


class ForestEndpoint:
    """sagemaker-runtime in front of a forest, answering as SageMaker RCF does."""

    def __init__(self, forest):
        self.forest, self.rows = forest, 0

    def invoke_endpoint(self, EndpointName, Body, ContentType, Accept):
        rows = np.loadtxt(io.BytesIO(Body), delimiter=",", ndmin=2)
        self.rows += len(rows)
        scores = [{"score": float(s)} for s in self.forest.score(rows)]
        return {"Body": io.BytesIO(json.dumps({"scores": scores}).encode())}


def _parquet(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A 4-day lake (2 accounts of 10 instances), a forest on its first 2 days' normal hours,
    the threshold on the 3rd day's (1% target), and the last day's hour with the most injected
    instance-hours (a scan), its lake objects cut into 25-minute pieces."""
    root = tmp_path_factory.mktemp("rcf-hourly-lake")
    gen = LakeGenerator(
        GenerateOptions(
            days=DAYS,
            start=START.date(),
            rows_per_day=20_000,
            seed=5,
            accounts=2,
            instances_per_account=10,
        )
    )
    labelled = defaultdict(set)
    last_day = []
    for obj in gen.objects():
        path = root / obj.key
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(obj.table, path)
        for label in obj.labels:
            labelled[(instance_of(label.entity), label.time - label.time % HOUR_MS)].add(label.kind)
        if obj.day == LAST and obj.source in (Source.VPC_FLOW, Source.ROUTE53):
            last_day.append(obj)
    engine = DuckAthena(LakeLocation.open(str(root)))

    def rows(start, end):
        ctx = QueryContext(region="us-east-1", source_version="2.0", start=start, end=end)
        return engine.query(rf.sql(ctx), ctx)

    def bad(table):
        keys = zip(table["instance"].to_pylist(), table["hour_start"].to_pylist(), strict=True)
        return np.array([k in labelled for k in keys])

    train = rows(START, START + timedelta(days=DAYS - 2))
    held = rows(START + timedelta(days=DAYS - 2), START + timedelta(days=DAYS - 1))
    normal_train = train.filter(pa.array(~bad(train)))
    profile = rf.FeatureProfile.fit(normal_train)
    forest = fit(
        profile.apply(normal_train),
        RcfHyperparameters(feature_dim=len(rf.FEATURES), num_trees=50),
        seed=1,
    )
    normal = forest.score(profile.apply(held))[~bad(held)]
    ev = evaluate_rcf(normal[::2], normal[1::2], 0.01)
    record = {
        "threshold": ev.threshold,
        "model_id": MODEL,
        "target_fpr": 0.01,
        "scale": ev.scale,
        "score": "rcf",
        "day": "2026-11-03",
    }
    day_ms = int(datetime.combine(LAST, datetime.min.time(), UTC).timestamp() * 1000)
    per_hour = Counter(h for (_, h) in labelled if h >= day_ms)
    hour_ms = max(per_hour, key=lambda h: (per_hour[h], -h))  # the most injected instance-hours
    hour = datetime.fromtimestamp(hour_ms / 1000, UTC)
    extract = rows(hour, hour + timedelta(hours=1))  # the whole objects' rows of the hour
    pieces = []  # (key, bytes): every 25-minute piece of the last day that meets the hour
    for obj in last_day:
        t = obj.table.combine_chunks()
        times = t["time"].to_numpy()
        key = parse_key(obj.key)
        for start in range(hour_ms - PIECE_MS, hour_ms + HOUR_MS, PIECE_MS):
            piece = t.filter(pa.array((times >= start) & (times < start + PIECE_MS)))
            if piece.num_rows:
                name = key.name.replace(".gz.parquet", f"-{start}.gz.parquet")
                pieces.append((replace(key, name=name).key, _parquet(piece)))
    whole = [o for o in last_day if o.source is Source.VPC_FLOW]
    return {
        "labelled": labelled,
        "profile": profile,
        "forest": forest,
        "record": record,
        "hour": hour,
        "extract": extract,
        "pieces": pieces,
        "whole": whole,
    }


@pytest.fixture
def stack(world, aws, clients):
    """This test's emulator: the lake bucket holding the hour's pieces, the threshold in its
    own SSM parameter, the profile beside the model, a findings topic, Security Hub on."""
    settings, _ = aws
    tag = uuid.uuid4().hex[:8]
    lake = S3Store(clients("s3"), settings.lake_bucket_name)
    for key, body in world["pieces"]:
        lake.put(key, body)
    parameter = f"/lakewatch-test-{tag}/threshold"
    clients("ssm").put_parameter(
        Name=rcf_threshold_parameter(parameter),
        Value=json.dumps(world["record"]),
        Type="String",
        Overwrite=True,
    )
    clients("s3").put_object(
        Bucket=settings.results_bucket_name,
        Key=artifact_key(settings.models_prefix, MODEL, rf.FEATURES_FILE),
        Body=json.dumps(world["profile"].as_dict()).encode(),
    )
    topic = clients("sns").create_topic(Name=f"lakewatch-findings-{tag}")["TopicArn"]
    try:
        clients("securityhub").enable_security_hub(EnableDefaultStandards=False)
    except ClientError as err:  # another test of the session enabled it
        assert err.response["Error"]["Code"] == "ResourceConflictException"
    config = settings_config(  # where the task's scorer configuration points, but for
        settings,  # this test's own threshold parameter and findings topic
        threshold_parameter=parameter,
        topic_arn=topic,
        security_hub_findings=True,
        rcf_endpoint_name="lakewatch-rcf",
    )
    runtime = ForestEndpoint(world["forest"])

    def services(name):
        return runtime if name == "sagemaker-runtime" else clients(name)

    engine = backend_for(settings).sql_engine(clients)  # the local backend's DuckDB
    return settings, config, services, engine


def _markers(clients, config) -> set[str]:
    listed = clients("s3").list_objects_v2(
        Bucket=config.results_bucket, Prefix=alert_marker_key(config.findings_prefix, "")
    )
    return {o["Key"] for o in listed.get("Contents", [])}


def test_a_closed_hour_of_minute_objects_is_found_stored_and_alerted_once(world, stack, clients):
    _, config, services, engine = stack
    hour = world["hour"]
    # the real-time scorer's step on the same pieces: no piece spans the hour, nothing scored
    scorer = RcfObjectScorer(
        ssm=clients("ssm"),
        s3=clients("s3"),
        model=EndpointRcf(services("sagemaker-runtime"), "lakewatch-rcf"),
        threshold_parameter=config.threshold_parameter,
        results_bucket=config.results_bucket,
        models_prefix=config.models_prefix,
        region=config.region,
    )
    object_hours = object_scored = 0
    for key, body in world["pieces"]:
        lake_key = parse_key(key)
        if lake_key.source != Source.VPC_FLOW.value:
            continue
        none, counts = scorer.findings(body, lake_key, config.lake_bucket, now_ms=0)
        object_hours += counts.hours
        object_scored += counts.scored
        assert none == []
    assert object_hours > 0 and object_scored == 0

    # the hour's rows across the pieces are the whole lake's rows of the hour, Route 53 too
    rows = rcf_hourly.hour_rows(engine, region=config.region, source_version="2.0", hour=hour)
    assert rows["account_id"].null_count == 0 and len(pc.unique(rows["account_id"])) == 2
    assert rows.drop_columns(["account_id"]).equals(world["extract"])
    assert pc.sum(rows["dns_queries"]).as_py() > 0

    # the real-time scorer alerted some of the hour already: an object that held it whole
    hour_ms = int(hour.timestamp() * 1000)
    earlier = []
    for obj in world["whole"]:
        times = obj.table["time"]
        if pc.min(times).as_py() <= hour_ms and pc.max(times).as_py() >= hour_ms + HOUR_MS - 60_000:
            whole, _ = scorer.findings(_parquet(obj.table), parse_key(obj.key), config.lake_bucket)
            earlier = [f for f in whole if f["start_time"] == hour_ms]
        if earlier:
            break
    assert earlier
    assert alert_findings(services, config, join_rcf([], earlier)) > 0
    before = _markers(clients, config)

    started = time.perf_counter()
    result = rcf_hourly.score_hour(engine, services, config, hour, source_version="2.0")
    took = time.perf_counter() - started
    assert result.rows == rows.num_rows and result.accounts == 2
    store = S3Store(clients("s3"), config.results_bucket)
    stored = read_day(store, config.findings_prefix, LAST)
    rcf = [f for f in stored if dict(f["unmapped"])["lakewatch.kind"] == "rcf"]
    assert len(rcf) == result.findings and len(stored) == result.findings + result.incidents
    injected = {i for (i, h) in world["labelled"] if h == hour_ms}
    found = {f["resources"][0]["uid"] for f in rcf}
    assert len(found & injected) >= 3  # the injected hours the object path missed
    assert len(found - injected) <= 1
    assert all(dict(f["unmapped"])["lakewatch.explained_by"] == "deviation" for f in rcf)
    for f in stored:  # the findings' layout, one file per account and hour
        assert f["start_time"] == hour.timestamp() * 1000
        account = f["cloud"]["account"]["uid"]
        where = f"region={config.region}/accountId={account}/eventDay={LAST:%Y%m%d}/"
        assert f"{config.findings_prefix}{where}rcf-hour-{hour:%Y%m%dT%H}.parquet" in {
            u.split("/", 3)[3] for u in result.files
        }
        assert f["finding_info"]["data_sources"][0].endswith(where)
    assert result.imported == len(stored) and result.not_imported == 0
    # alerted once per finding uid: not those the real-time scorer alerted
    sent = _markers(clients, config) - before
    alertable = {f["finding_info"]["uid"] for f in stored if f["severity_id"] >= 2}
    already = {f["finding_info"]["uid"] for f in join_rcf([], earlier)}
    assert already & alertable and alertable - already
    assert {m.rsplit("/", 1)[1] for m in sent} == alertable - already
    assert result.alerts == len(alertable - already)

    again = rcf_hourly.score_hour(engine, services, config, hour, source_version="2.0")
    assert again.alerts == 0 and again.files == result.files
    assert again.findings == result.findings
    assert len(read_day(store, config.findings_prefix, LAST)) == len(stored)
    assert took < 30, took
    print(
        f"\n{result.line()}; injected {len(found & injected)} of {len(injected)}; "
        f"{len(world['pieces'])} pieces, object path scored {object_scored} of "
        f"{object_hours} instance-hours; {took:.2f}s"
    )


def test_nothing_to_score_with_is_not_ready(world, stack, clients):
    _, config, services, engine = stack
    hour = world["hour"]
    clients("s3").delete_object(
        Bucket=config.results_bucket,
        Key=artifact_key(config.models_prefix, MODEL, rf.FEATURES_FILE),
    )
    with pytest.raises(rcf_hourly.NotReady, match="no feature profile"):
        rcf_hourly.score_hour(engine, services, config, hour, source_version="2.0")
    clients("ssm").delete_parameter(Name=rcf_threshold_parameter(config.threshold_parameter))
    with pytest.raises(rcf_hourly.NotReady, match="no RCF threshold published"):
        rcf_hourly.score_hour(engine, services, config, hour, source_version="2.0")


def test_a_raised_threshold_removes_the_hours_earlier_file(world, stack, clients):
    _, config, services, engine = stack
    hour = world["hour"]
    first = rcf_hourly.score_hour(engine, services, config, hour, source_version="2.0")
    assert first.files
    raised = {**world["record"], "threshold": 1e9}
    clients("ssm").put_parameter(
        Name=rcf_threshold_parameter(config.threshold_parameter),
        Value=json.dumps(raised),
        Type="String",
        Overwrite=True,
    )
    again = rcf_hourly.score_hour(engine, services, config, hour, source_version="2.0")
    assert again.findings == 0 and again.files == [] and again.removed == len(first.files)
    store = S3Store(clients("s3"), config.results_bucket)
    assert read_day(store, config.findings_prefix, LAST) == []


def test_the_closed_hour_of_a_run():
    at = datetime(2026, 11, 5, 14, 20, tzinfo=UTC)
    assert rcf_hourly.closed_hour(at, timedelta(minutes=15)) == datetime(
        2026, 11, 5, 13, tzinfo=UTC
    )
    assert rcf_hourly.closed_hour(at, timedelta(minutes=30)) == datetime(
        2026, 11, 5, 12, tzinfo=UTC
    )
    assert rcf_hourly.closed_hour(datetime(2026, 11, 5, 0, 5, tzinfo=UTC)) == datetime(
        2026, 11, 4, 23, tzinfo=UTC
    )
    assert rcf_hourly.hour_start("2026-11-05T03") == datetime(2026, 11, 5, 3, tzinfo=UTC)
    assert rcf_hourly.hour_start("2026-11-05T04:00+01:00") == datetime(2026, 11, 5, 3, tzinfo=UTC)
    with pytest.raises(ValueError, match="not the start of an hour"):
        rcf_hourly.hour_start("2026-11-05T03:30")
    assert date(2026, 11, 5) == rcf_hourly.closed_hour(at).date()


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_each_instance_hour_has_the_account_whose_objects_logged_it(version, tmp_path):
    gen = LakeGenerator(
        GenerateOptions(
            days=1,
            start=START.date(),
            rows_per_day=4_000,
            seed=3,
            accounts=2,
            instances_per_account=8,
            source_version=version,
        )
    )
    account_of = {}
    for obj in gen.objects():
        path = tmp_path / obj.key
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(obj.table, path)
        if obj.source is Source.VPC_FLOW:
            t = obj.table
            outbound = pc.equal(pc.struct_field(t["connection_info"], "direction_id"), 2)
            for column in ("src_endpoint", "dst_endpoint"):
                side = pc.struct_field(t[column], "instance_uid")
                logged = side.filter(outbound if column == "src_endpoint" else pc.invert(outbound))
                for instance in pc.unique(logged).to_pylist():
                    if instance not in (None, "-"):
                        account_of[instance] = parse_key(obj.key).account_id
    engine = DuckAthena(LakeLocation.open(str(tmp_path)))
    rows = rcf_hourly.hour_rows(
        engine, region="us-east-1", source_version=version, hour=START + timedelta(hours=12)
    )
    assert rows.num_rows > 0 and rows["account_id"].null_count == 0
    pairs = zip(rows["instance"].to_pylist(), rows["account_id"].to_pylist(), strict=True)
    assert all(account_of[i] == a for i, a in pairs)
    assert len(set(rows["account_id"].to_pylist())) == 2
