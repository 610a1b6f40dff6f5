"""RCF findings in incidents: an unusual instance-hour joins the pairs' incident of that hour,
or opens it with the hour's flagged pairs beside it."""

import io

import pyarrow.parquet as pq

from lakewatch.lake.layout import parse_key
from lakewatch.lake.validate import validate_record
from lakewatch.review.rows import rank, row_of
from lakewatch.scoring import rcf_findings as rc
from lakewatch.scoring.incidents import Incident, incident_finding
from lakewatch.scoring.pair_findings import WINDOW_MS, ScoredPair, make_finding
from lakewatch.scoring.rcf_incidents import incident_uid, join_rcf
from lakewatch.scoring.storage import to_parquet
from lakewatch.threshold.published import PublishedThreshold

KEY = parse_key(
    "aws/VPC_FLOW/2.0/region=us-east-1/accountId=123456789012/eventDay=20261130/x.gz.parquet"
)
IPI = PublishedThreshold(threshold=0.0, model_id="ipi-1", score="detector", scale=1.0)
RCF = PublishedThreshold(threshold=1.5, model_id="rcf-1", score="rcf", scale=0.2, target_fpr=0.001)
HOUR = 1_780_000 * WINDOW_MS
COMMON = {"source": KEY, "bucket": "lake", "now_ms": HOUR + 2 * WINDOW_MS}


def _rcf(instance, score=2.5, hour=HOUR):
    text = "dst port class rdp: 40 flows (usual 0)"
    scored = rc.ScoredHour(instance, hour, score, [rc.Contribution("port_rdp", score, text)])
    return rc.rcf_finding(scored, threshold=RCF, **COMMON)


def _pair(entity, ip, score, at=HOUR + 60_000):
    return ScoredPair(entity, ip, "egress_peer", score, True, 1, at, at + 10)


def _kinds(findings):
    return sorted(f["unmapped"]["lakewatch.kind"] for f in findings)


def test_an_rcf_finding_joins_the_pairs_incident_of_its_instance_hour():
    pairs = [_pair("i-a", "203.0.113.5", -1.0), _pair("i-a", "203.0.113.6", -3.0)]
    incident = incident_finding(
        Incident("entity", "i-a", HOUR // WINDOW_MS, pairs), threshold=IPI, **COMMON
    )
    findings = [
        *(make_finding(p, "anomalous_pair", threshold=IPI, **COMMON) for p in pairs),
        incident,
    ]
    before = incident["severity_id"]
    found = _rcf("i-a", score=4.0)  # far above: the highest severity
    joined = join_rcf(findings, [found])
    assert _kinds(joined) == ["anomalous_pair", "anomalous_pair", "incident", "rcf"]
    (merged,) = [f for f in joined if f["unmapped"]["lakewatch.kind"] == "incident"]
    assert merged["finding_info"]["uid"] == incident_uid("i-a", HOUR // WINDOW_MS)
    assert merged["evidences"][-1]["data"]["view"] == "rcf_features"
    assert merged["evidences"][-1]["data"]["score"] == repr(4.0)
    assert merged["severity_id"] == max(before, found["severity_id"]) == 5
    assert merged["unmapped"]["lakewatch.models"] == "ipinsights,rcf"
    assert "rdp: 40 flows" in merged["finding_info"]["desc"]
    assert validate_record(merged, "1.1.0") == []


def test_an_rcf_finding_alone_opens_its_incident_with_the_hours_flagged_pairs():
    lone = _pair("i-b", "198.51.100.9", -0.5)  # flagged, but alone: no incident of its own
    other_hour = _pair("i-b", "198.51.100.10", -0.5, at=HOUR + 3 * WINDOW_MS)
    findings = [
        make_finding(p, "anomalous_pair", threshold=IPI, **COMMON) for p in (lone, other_hour)
    ]
    found = _rcf("i-b")
    joined = join_rcf(findings, [found])
    assert _kinds(joined) == ["anomalous_pair", "anomalous_pair", "incident", "rcf"]
    (opened,) = [f for f in joined if f["unmapped"]["lakewatch.kind"] == "incident"]
    assert opened["finding_info"]["uid"] == incident_uid("i-b", HOUR // WINDOW_MS)
    assert opened["finding_info"]["uid"] != found["finding_info"]["uid"]
    assert opened["metadata"]["uid"].startswith(opened["finding_info"]["uid"] + "-")
    assert opened["finding_info"]["types"] == ["lakewatch:incident"]
    u = opened["unmapped"]
    assert (u["lakewatch.incident_shape"], u["lakewatch.pairs"], u["lakewatch.models"]) == (
        "entity",
        "1",
        "rcf",
    )
    ips = [o["value"] for o in opened["observables"] if o["type"] == "IP Address"]
    assert ips == ["198.51.100.9"]  # the same hour's pair only
    assert [e["data"]["view"] for e in opened["evidences"]] == ["rcf_features", "egress_peer"]
    assert validate_record(opened, "1.1.0") == []
    # stored and read back: ranked as an RCF score (higher first) beside another of the same
    # severity
    weaker = [
        f
        for f in join_rcf([], [_rcf("i-c", score=2.2)])
        if f["unmapped"]["lakewatch.kind"] == "incident"
    ]
    stored = pq.read_table(io.BytesIO(to_parquet([*weaker, opened]))).to_pylist()
    rows = rank([row_of(f, "2026-11-30") for f in stored])
    assert [r.instances for r in rows if r.kind == "incident"] == [("i-b",), ("i-c",)]


def test_without_rcf_findings_nothing_changes():
    findings = [
        make_finding(_pair("i-a", "203.0.113.5", -1.0), "anomalous_pair", threshold=IPI, **COMMON)
    ]
    assert join_rcf(findings, []) == findings


def test_a_lone_rcf_finding_opens_an_incident_only_beyond_the_strict_threshold():
    """As a pair's hour needs two flags or one beyond the strict threshold: an hour just over
    the nightly threshold is often the normal tail, and stays a finding."""
    weak, strong = _rcf("i-d", score=1.8), _rcf("i-e", score=3.0)
    paired = _rcf("i-f", score=1.8)
    pair = make_finding(
        _pair("i-f", "198.51.100.20", -0.5), "anomalous_pair", threshold=IPI, **COMMON
    )
    joined = join_rcf([pair], [weak, strong, paired], strict=2.5)
    opened = {
        f["resources"][0]["uid"] for f in joined if f["unmapped"]["lakewatch.kind"] == "incident"
    }
    assert opened == {"i-e", "i-f"}  # beyond strict; corroborated by the hour's flagged pair
    assert _kinds(joined).count("rcf") == 3  # every RCF finding is kept
    assert {
        f["resources"][0]["uid"]
        for f in join_rcf([], [weak], strict=None)
        if f["unmapped"]["lakewatch.kind"] == "incident"
    } == {"i-d"}
