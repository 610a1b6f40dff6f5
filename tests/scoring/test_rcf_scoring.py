"""The scorer's RCF step: a VPC Flow object's whole hours, by the training extract's SQL,
scored through an RCF endpoint against the RCF threshold and profile, as findings of kind rcf."""

import io
import json
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError

from lakewatch.extract import rcf_features as rf
from lakewatch.lake.layout import Source, parse_key
from lakewatch.lake.synthetic import GenerateOptions, LakeGenerator
from lakewatch.model.rcf.forest import fit
from lakewatch.model.rcf.hyperparameters import RcfHyperparameters
from lakewatch.names import artifact_key, rcf_threshold_parameter
from lakewatch.scoring.errors import TransientError
from lakewatch.scoring.rcf_rows import object_feature_rows, with_usual
from lakewatch.scoring.rcf_scoring import EndpointRcf, RcfObjectScorer

PARAMETER = "/lakewatch/threshold"
MODEL = "rcf-20261101"


class Stream:
    def __init__(self, data: bytes):
        self.data = data

    def read(self):
        return self.data


class FakeS3:
    def __init__(self, objects):
        self.objects, self.gets = objects, 0

    def get_object(self, Bucket, Key):
        self.gets += 1
        if (Bucket, Key) not in self.objects:
            raise ClientError({"Error": {"Code": "NoSuchKey"}}, "GetObject")
        return {"Body": Stream(self.objects[(Bucket, Key)])}


class FakeSsm:
    def __init__(self, values):
        self.values = values

    def get_parameter(self, Name):
        if Name not in self.values:
            raise ClientError({"Error": {"Code": "ParameterNotFound"}}, "GetParameter")
        return {"Parameter": {"Value": self.values[Name], "Version": 3}}


class ForestEndpoint:
    """sagemaker-runtime in front of a forest, answering as SageMaker RCF does."""

    def __init__(self, forest):
        self.forest, self.requests = forest, []

    def invoke_endpoint(self, EndpointName, Body, ContentType, Accept):
        assert (ContentType, Accept) == ("text/csv", "application/json")
        rows = np.loadtxt(io.BytesIO(Body), delimiter=",", ndmin=2)
        self.requests.append(rows)
        scores = [{"score": float(s)} for s in self.forest.score(rows)]
        return {"Body": Stream(json.dumps({"scores": scores}).encode())}


@pytest.fixture(scope="module")
def lake():
    gen = LakeGenerator(
        GenerateOptions(days=2, start=date(2026, 11, 1), rows_per_day=20_000, seed=11, accounts=1)
    )
    flows = [o for o in gen.objects() if o.source is Source.VPC_FLOW]
    train = [o for o in flows if o.day == date(2026, 11, 1)]
    test = [o for o in flows if o.day == date(2026, 11, 2)]
    rows = pa.concat_tables(
        [object_feature_rows(_parquet(o.table), parse_key(o.key), "us-east-1") for o in train]
    ).drop_columns(["complete"])
    profile = rf.FeatureProfile.fit(rows)
    hp = RcfHyperparameters(feature_dim=len(rf.FEATURES), num_trees=50)
    forest = fit(profile.apply(rows), hp, seed=2)
    normal = forest.score(profile.apply(rows))
    return profile, forest, float(np.quantile(normal, 0.9)), test


def _parquet(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def _scorer(profile, forest, threshold, with_profile=True, with_threshold=True):
    record = {"threshold": threshold, "model_id": MODEL, "score": "rcf", "scale": 0.2}
    ssm = FakeSsm(
        {rcf_threshold_parameter(PARAMETER): json.dumps(record)} if with_threshold else {}
    )
    key = artifact_key("models/", MODEL, rf.FEATURES_FILE)
    s3 = FakeS3({("results", key): json.dumps(profile.as_dict()).encode()} if with_profile else {})
    runtime = ForestEndpoint(forest)
    scorer = RcfObjectScorer(
        ssm=ssm,
        s3=s3,
        model=EndpointRcf(runtime, "lakewatch-rcf"),
        threshold_parameter=PARAMETER,
        results_bucket="results",
        models_prefix="models/",
        region="us-east-1",
    )
    return scorer, runtime, s3


def test_an_objects_whole_hours_are_scored_through_the_endpoint(lake):
    profile, forest, threshold, test = lake
    scorer, runtime, s3 = _scorer(profile, forest, threshold)
    obj = test[0]
    key = parse_key(obj.key)
    body = _parquet(obj.table)
    findings, counts = scorer.findings(body, key, "lake", now_ms=0)
    rows = object_feature_rows(body, key, "us-east-1")
    whole = rows.filter(rows["complete"]).drop_columns(["complete"])
    assert counts.hours == rows.num_rows and counts.scored == whole.num_rows > 0
    # what the endpoint was sent: the whole hours, Route 53 columns at the usual values,
    # standardized by the model's profile
    sent = np.concatenate(runtime.requests)
    expected = profile.apply(with_usual(whole, profile))
    assert sent.shape == (whole.num_rows, len(rf.FEATURES))
    assert np.allclose(sent, expected, atol=1e-6)
    # the findings: the hours scored above the threshold, no others
    scores = forest.score(expected)
    above = {
        (i, h)
        for i, h, s in zip(
            whole["instance"].to_pylist(), whole["hour_start"].to_pylist(), scores, strict=True
        )
        if s > threshold
    }
    assert above and counts.findings == len(findings) == len(above)
    assert {(f["resources"][0]["uid"], f["start_time"]) for f in findings} == above
    assert all(f["unmapped"]["lakewatch.explained_by"] == "deviation" for f in findings)
    assert all(f["unmapped"]["lakewatch.model_id"] == MODEL for f in findings)
    # the profile is read once per model
    scorer.findings(body, key, "lake", now_ms=0)
    assert s3.gets == 1


def test_a_part_of_an_hour_is_not_scored(lake):
    profile, forest, threshold, test = lake
    scorer, runtime, _ = _scorer(profile, forest, threshold)
    obj = test[0]
    first = pc.min(obj.table["time"]).as_py()
    start = first - first % 3_600_000 + 3_600_000  # the first whole hour's start
    part = obj.table.filter(
        pc.and_(
            pc.greater_equal(obj.table["time"], start),
            pc.less(obj.table["time"], start + 1_800_000),
        )
    )
    assert part.num_rows
    findings, counts = scorer.findings(_parquet(part), parse_key(obj.key), "lake", now_ms=0)
    assert counts.hours > 0 and counts.scored == 0 and findings == []
    assert runtime.requests == []  # nothing to score, no call


def test_no_profile_or_threshold_yet_is_transient(lake):
    profile, forest, threshold, test = lake
    obj = test[0]
    body, key = _parquet(obj.table), parse_key(obj.key)
    scorer, _, _ = _scorer(profile, forest, threshold, with_profile=False)
    with pytest.raises(TransientError, match="no feature profile"):
        scorer.findings(body, key, "lake", now_ms=0)
    scorer, _, _ = _scorer(profile, forest, threshold, with_threshold=False)
    with pytest.raises(TransientError, match="no threshold published"):
        scorer.findings(body, key, "lake", now_ms=0)


def test_an_endpoint_failure_is_transient():
    class Failing:
        def invoke_endpoint(self, **_):
            raise ClientError({"Error": {"Code": "ValidationError", "Message": "no"}}, "Invoke")

    with pytest.raises(TransientError, match="lakewatch-rcf"):
        EndpointRcf(Failing(), "lakewatch-rcf").score(np.zeros((2, len(rf.FEATURES))))


def _process_scorer(profile, forest, threshold, **config):
    """The real-time scorer with an RCF endpoint, its pair step stubbed out (no pairs)."""
    from lakewatch.scoring.config import ScorerConfig
    from lakewatch.scoring.process import ScoredObject, Scorer

    _, runtime, s3 = _scorer(profile, forest, threshold)
    record = {"threshold": threshold, "model_id": MODEL, "score": "rcf", "scale": 0.2}
    ssm = FakeSsm({rcf_threshold_parameter(PARAMETER): json.dumps(record)})
    services = {"s3": s3, "ssm": ssm, "sagemaker-runtime": runtime}
    conf = ScorerConfig(
        endpoint_name="ipi",
        threshold_parameter=PARAMETER,
        results_bucket="results",
        **{"lake_bucket": "lake", **config},
    )
    scorer = Scorer(conf, lambda service: services.get(service, object()))
    scorer.score_pairs = lambda *a: ScoredObject([], None)
    return scorer, runtime


def test_the_scorer_adds_rcf_findings_to_a_vpc_flow_objects(lake):
    from lakewatch.scoring.process import ObjectResult

    profile, forest, threshold, test = lake
    obj = test[0]
    key, body = parse_key(obj.key), _parquet(obj.table)
    off, _ = _process_scorer(profile, forest, threshold)
    assert off.rcf is None
    assert off.score_object(body, key, "lake", ObjectResult("lake", key.key)).findings == []

    scorer, runtime = _process_scorer(profile, forest, threshold, rcf_endpoint_name="rcf-ep")
    result = ObjectResult("lake", key.key)
    scored = scorer.score_object(body, key, "lake", result)
    kinds = [f["unmapped"]["lakewatch.kind"] for f in scored.findings]
    assert kinds and set(kinds) == {"rcf", "incident"}
    # each flagged hour opens its instance-hour's incident (no pair findings here to join)
    assert kinds.count("incident") == kinds.count("rcf") == result.incidents
    assert result.rcf_findings == kinds.count("rcf") and result.rcf_scored > 0
    assert result.rcf_hours >= result.rcf_scored
    # no IP Insights threshold was needed: the findings are stored under the RCF model's
    assert scored.threshold is not None and scored.threshold.model_id == MODEL
    calls = len(runtime.requests)
    # a canary object is not scored by the RCF
    canary = parse_key("canary/" + obj.key)
    assert canary is not None and canary.prefix == "canary/"
    assert scorer.score_object(body, canary, "results", ObjectResult("r", "k")).findings == []
    assert len(runtime.requests) == calls
