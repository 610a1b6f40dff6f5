"""RCF findings: an instance-hour scored above the threshold is one OCSF 2004 finding of kind
rcf, explained by the features that carry its score, in raw units beside the usual value."""

import io

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakewatch.aws.securityhub import to_asff
from lakewatch.backtest.evaluate import kind_of, pairs_of
from lakewatch.extract import rcf_features as rf
from lakewatch.lake.layout import parse_key
from lakewatch.lake.validate import validate_record
from lakewatch.model.rcf.forest import Attribution, fit
from lakewatch.model.rcf.hyperparameters import RcfHyperparameters
from lakewatch.review.rows import row_of
from lakewatch.scoring import rcf_findings as rc
from lakewatch.scoring.storage import to_parquet
from lakewatch.threshold.published import PublishedThreshold
from tests.rcf_hours import START_MS, normal_hours, with_rdp

SOURCE = parse_key(
    "aws/VPC_FLOW/2.0/region=us-east-1/accountId=123456789012/eventDay=20261101/abc.gz.parquet"
)
HOUR_MS = 3_600_000


def _threshold(value, scale=0.1, model_id="rcf-1"):
    return PublishedThreshold(
        threshold=value,
        model_id=model_id,
        target_fpr=0.01,
        scale=scale,
        day="2026-11-01",
        score="rcf",
    )


@pytest.fixture(scope="module")
def trained():
    rows = normal_hours(instances=4, hours=150, seed=0)
    profile = rf.FeatureProfile.fit(rows)
    hp = RcfHyperparameters(feature_dim=len(rf.FEATURES), num_trees=100)
    forest = fit(profile.apply(rows), hp, seed=3)
    return rows, profile, forest


def _held_out():
    return normal_hours(instances=4, hours=48, seed=7)


def test_an_rdp_sweep_is_flagged_and_explained_in_raw_units(trained):
    _, profile, forest = trained
    held = _held_out()
    normal = forest.score(profile.apply(held))
    threshold = float(np.quantile(normal, 0.99))
    target = 60  # instance 1, hour 12
    test = with_rdp(held, target, flows=40, bytes_out=48_000_000)
    hours = rc.score_hours(test, forest, profile, threshold)
    flagged = {(h.instance, h.hour_start_ms) for h in hours}
    instance = held["instance"][target].as_py()
    assert (instance, held["hour_start"][target].as_py()) in flagged
    assert len(flagged) <= 3  # the normal hours: about 1% over the 99% quantile, plus the sweep
    sweep = next(h for h in hours if h.instance == instance and h.score > threshold * 1.2)
    names = [c.feature for c in sweep.contributions]
    assert {"port_rdp", "bytes_out"} <= set(names) and len(names) == rc.TOP
    texts = [c.text for c in sweep.contributions]
    assert "dst port class rdp: 40 flows (usual 0)" in texts
    assert any(t.startswith("bytes out: 48.") and t.endswith(" MB)") for t in texts), texts
    rest = [c.attribution for c in sweep.contributions]
    assert rest == sorted(rest, reverse=True)


def test_the_direction_is_higher_is_more_anomalous(trained):
    """A fake model whose scores are the rows' order: only those above the threshold."""
    rows, profile, _ = trained
    some = rows.slice(0, 6)

    class Fake:
        def score(self, m):
            return np.arange(len(m), dtype=float)

        def attribution(self, m):
            return Attribution(np.ones_like(m), np.zeros_like(m))

    hours = rc.score_hours(some, Fake(), profile, threshold=3.5)
    assert [h.score for h in hours] == [4.0, 5.0]
    assert [h.hour_start_ms for h in hours] == some["hour_start"].to_pylist()[4:]
    assert rc.score_hours(some, Fake(), profile, threshold=5.0) == []


def test_a_finding_is_valid_ocsf_of_kind_rcf_on_the_instance_and_hour(trained):
    _, profile, forest = trained
    test = with_rdp(_held_out(), 5)
    findings = rc.rcf_findings(
        test.slice(5, 1),
        model=forest,
        profile=profile,
        threshold=_threshold(0.0),
        source=SOURCE,
        bucket="lake",
        now_ms=START_MS + 10 * HOUR_MS,
    )
    assert len(findings) == 1
    f = findings[0]
    assert validate_record(f, "1.1.0") == [], f
    instance = test["instance"][5].as_py()
    start = test["hour_start"][5].as_py()
    assert f["class_uid"] == 2004
    assert f["resources"][0]["uid"] == instance
    assert (f["start_time"], f["end_time"]) == (start, start + HOUR_MS - 1)
    u = f["unmapped"]
    assert (u["lakewatch.model"], u["lakewatch.view"], u["lakewatch.kind"]) == (
        "rcf",
        "rcf_features",
        "rcf",
    )
    assert kind_of(f) == "rcf" and pairs_of(f) == {(instance, "")}
    assert f["finding_info"]["analytic"]["name"] == "Random Cut Forest"
    assert "dst port class rdp: 40 flows (usual 0)" in f["finding_info"]["desc"]
    assert u["lakewatch.explanation"] in f["finding_info"]["desc"]
    assert "port_rdp" in u["lakewatch.top_features"].split(",")
    data = f["evidences"][0]["data"]
    assert all(isinstance(v, str) for v in data.values())  # storage's map<string, string>
    assert data["features"] == u["lakewatch.top_features"]
    # stored and read back as the review reads a day's findings
    (stored,) = pq.read_table(io.BytesIO(to_parquet(findings))).to_pylist()
    assert dict(stored["unmapped"])["lakewatch.model"] == "rcf"
    assert dict(stored["evidences"][0]["data"])["explanation"] == u["lakewatch.explanation"]
    assert stored["evidences"][0]["src_endpoint"]["instance_uid"] == instance
    # as Security Hub imports it: the instance as an EC2 resource, no network peer
    asff = to_asff(f, account_id="123456789012", region="us-east-1")
    assert asff["Resources"][0]["Type"] == "AwsEc2Instance"
    assert asff["Resources"][0]["Id"].endswith(f":instance/{instance}")
    assert "Network" not in asff and asff["GeneratorId"] == "lakewatch/rcf"
    assert asff["ProductFields"]["lakewatch/model"] == "rcf"
    row = row_of(stored, "2026-11-01")
    assert (row.kind, row.view, row.instances, row.addresses) == (
        "rcf",
        "rcf_features",
        (instance,),
        (),
    )
    # the behaviour's uid: the same for another model, another for another hour
    again = rc.rcf_finding(
        rc.score_hours(test.slice(5, 1), forest, profile, 0.0)[0],
        threshold=_threshold(0.0, model_id="rcf-2"),
        source=SOURCE,
        bucket="lake",
        now_ms=0,
    )
    assert again["finding_info"]["uid"] == f["finding_info"]["uid"]
    assert again["metadata"]["uid"] != f["metadata"]["uid"]
    other = rc.score_hours(test.slice(6, 1), forest, profile, -1.0)[0]
    assert rc.finding_uid(other) != f["finding_info"]["uid"]


def test_severity_grows_with_the_score_above_the_threshold():
    assert [rc.rcf_severity(s, 1.0, 0.1) for s in (1.01, 1.1, 1.2, 1.5)] == [2, 3, 4, 5]
    assert rc.rcf_severity(0.9, 1.0, 0.1) == 2  # never below Low


def test_describe_undoes_log1p_and_keeps_units():
    feature = {f.name: f for f in rf.FEATURES}
    assert (
        rc.describe(feature["bytes_out"], 48_000_000, 300_000) == "bytes out: 48 MB (usual 0.3 MB)"
    )
    assert rc.describe(feature["bytes_in"], 512, 20) == "bytes in: 512 B (usual 20 B)"
    # a usual value that would read 0 in the hour's unit is given in its own
    assert rc.describe(feature["bytes_out"], 1.3e9, 580_000) == "bytes out: 1.3 GB (usual 580 kB)"
    assert rc.describe(feature["bytes_out"], 0, 326_000) == "bytes out: 0 B (usual 326 kB)"
    assert rc.describe(feature["bytes_in"], 60_600, 220_000) == "bytes in: 60.6 kB (usual 220 kB)"
    assert rc.describe(feature["flows_in"], 1250, 0.004) == "flows in: 1,250 (usual 0)"
    assert rc.describe(feature["port_smb"], 5, 0) == "dst port class smb: 5 flows (usual 0)"
    assert rc.describe(feature["peers"], 120, 4.4) == "peers: 120 (usual 4.4)"
    assert rc.describe(feature["denied_share"], 0.85, 0.02) == "denied share: 85% (usual 2%)"
    # the usual value comes from the profile's scaled median: log1p undone
    usual = rf.raw_value(feature["bytes_out"], float(np.log1p(300_000)))
    assert rc.describe(feature["bytes_out"], 48e6, usual) == "bytes out: 48 MB (usual 0.3 MB)"


def test_the_hour_is_one_item_and_an_unknown_instance_uses_the_overall_median(trained):
    _, profile, _ = trained
    raw = {c: 0.0 for c in rf.RAW_COLUMNS} | {"hour_of_day": 3.0, "port_rdp": 5.0}
    attribution = np.zeros(len(rf.FEATURES))
    names = rf.feature_names()
    attribution[names.index("hour_sin")] = 0.4
    attribution[names.index("hour_cos")] = 0.4
    attribution[names.index("port_rdp")] = 0.5
    items = rc.contributions(attribution, raw, profile.usual_of("i-never-seen"), top=2)
    assert [c.feature for c in items] == ["hour_of_day", "port_rdp"]
    assert items[0].text == "hour of day: 03h UTC"
    assert items[0].attribution == pytest.approx(0.8)
    flows = rf.raw_value(rf.FEATURES[names.index("flows_out")], profile.overall[1])
    text = rc.contributions(
        np.eye(len(rf.FEATURES))[names.index("flows_out")], raw, profile.overall, top=1
    )[0].text
    assert text == f"flows out: 0 (usual {rc._number(flows)})"
    assert flows > 10  # the training instances' outbound flows an hour


def test_rows_without_the_key_columns_are_refused(trained):
    rows, profile, forest = trained
    with pytest.raises(ValueError, match="hour_start"):
        rc.score_hours(rows.drop_columns(["hour_start"]), forest, profile, 0.0)
    assert rc.score_hours(rows.slice(0, 0), forest, profile, 0.0) == []


def test_a_model_without_attribution_is_explained_by_distance_from_usual(trained):
    """A SageMaker endpoint answers scores only: the features furthest from the instance's
    usual values (standardized) explain the hour, never the hour of day."""
    _, profile, forest = trained

    class ScoresOnly:
        def score(self, m):
            return forest.score(m)

    test = with_rdp(_held_out(), 60, flows=40, bytes_out=48_000_000).slice(60, 1)
    (hour,) = rc.score_hours(test, ScoresOnly(), profile, 0.0, top=4)
    assert hour.explained_by == rc.DEVIATION
    names = [c.feature for c in hour.contributions]
    # in the instance's own spreads: bytes out 150 times the usual first; the RDP flows, a
    # doubled flow count and 9 times the peers all many spreads off
    assert names[0] == "bytes_out" and "port_rdp" in names and "hour_of_day" not in names
    assert hour.score == pytest.approx(float(forest.score(profile.apply(test))[0]))
    f = rc.rcf_finding(hour, threshold=_threshold(0.0), source=SOURCE, bucket="lake", now_ms=0)
    assert f["unmapped"]["lakewatch.explained_by"] == "deviation"
    assert "by distance from the usual values" in f["finding_info"]["desc"]
    (with_attribution,) = rc.score_hours(test, forest, profile, 0.0)
    assert with_attribution.explained_by == rc.ATTRIBUTION


def test_an_ip_insights_threshold_is_refused(trained):
    _, profile, forest = trained
    ipi = PublishedThreshold(threshold=0.0, model_id="ipi-1", score="detector")
    with pytest.raises(ValueError, match="not an RCF threshold"):
        rc.rcf_findings(
            _held_out().slice(0, 2),
            model=forest,
            profile=profile,
            threshold=ipi,
            source=SOURCE,
            bucket="lake",
            now_ms=0,
        )


def test_a_new_instance_is_explained_against_its_subnets_usual_hour():
    """Rows carry the SQL's subnet column (a string, not a raw count); an instance the
    window never saw is scored and explained against its subnet's usual values."""
    rows = normal_hours(instances=4, hours=150, seed=0)
    subnet = {
        n: ("subnet-a" if n[-1] in "01" else "subnet-b") for n in rows["instance"].to_pylist()
    }
    rows = rows.append_column("subnet", pa.array([subnet[n] for n in rows["instance"].to_pylist()]))
    profile = rf.FeatureProfile.fit(rows)
    forest = fit(profile.apply(rows), RcfHyperparameters(feature_dim=len(rf.FEATURES)), seed=3)

    class ScoresOnly:
        def score(self, m):
            return forest.score(m)

    test = with_rdp(rows.slice(3 * 150, 1), 0, flows=40, bytes_out=48_000_000)
    test = test.set_column(0, "instance", pa.array(["i-new"]))
    names = rf.feature_names()
    usual = rf.raw_value(
        rf.FEATURES[names.index("flows_out")],
        profile.usual_of("i-new", "subnet-b")[names.index("flows_out")],
    )
    assert usual != rf.raw_value(
        rf.FEATURES[names.index("flows_out")], profile.overall[names.index("flows_out")]
    )
    for model in (forest, ScoresOnly()):
        (hour,) = rc.score_hours(test, model, profile, 0.0, top=len(rf.FEATURES))
        assert hour.instance == "i-new"
        text = next(c.text for c in hour.contributions if c.feature == "flows_out")
        assert text.endswith(f"(usual {rc._number(usual)})")
