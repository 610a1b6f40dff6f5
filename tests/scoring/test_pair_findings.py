"""scoring.pair_findings: OCSF Detection Findings that validate, severity from distance into the
tail, one uid per pair and window whichever model found it (the model an attribute), Parquet
round trip."""

from lakewatch.lake.layout import parse_key
from lakewatch.lake.validate import validate_record
from lakewatch.scoring.pair_findings import ScoredPair, finding_uid, findings_for, severity_for
from lakewatch.threshold.published import PublishedThreshold

THRESHOLD = PublishedThreshold(
    threshold=0.0, model_id="ipi-1", target_fpr=0.01, scale=1.0, day="2026-11-01"
)


SOURCE = parse_key(
    "aws/VPC_FLOW/2.0/region=us-east-1/accountId=123456789012/eventDay=20261101/abc.gz.parquet"
)


def _pair(score, known=True, view="egress_peer", first=1_793_491_200_000):
    return ScoredPair(
        "i-0abc" + ("/in" if view == "ingress_peer" else ""),
        "45.1.2.3",
        view,
        score,
        known,
        7,
        first,
        first + 1000,
    )


def test_findings_are_valid_ocsf_detection_findings():
    findings = findings_for(
        [_pair(-2.5), _pair(0.5), _pair(0.3, known=False), _pair(-0.1, view="ingress_peer")],
        threshold=THRESHOLD,
        source=SOURCE,
        bucket="lake",
        now_ms=1,
    )
    kinds = [f["unmapped"]["lakewatch.kind"] for f in findings]
    assert kinds == ["anomalous_pair", "unknown_entity", "anomalous_pair"]
    for f in findings:
        assert validate_record(f, "1.1.0") == [], f
        assert f["count"] == 7 and f["class_uid"] == 2004
    assert findings[0]["severity"] == "High" and findings[1]["severity"] == "Informational"
    assert findings[2]["evidences"][0]["src_endpoint"] == {"ip": "45.1.2.3"}  # inbound peer
    assert findings[2]["resources"][0]["uid"] == "i-0abc"


def test_severity_grows_with_distance():
    assert [severity_for(s, 0.0, 1.0) for s in (-0.1, -1, -2, -5)] == [2, 3, 4, 5]


def test_repeats_in_a_window_share_a_uid():
    a, b = _pair(-1, first=1_793_491_200_000), _pair(-1, first=1_793_491_200_000 + 1_800_000)
    c = _pair(-1, first=1_793_491_200_000 + 3_600_000)
    assert finding_uid(a) == finding_uid(b) != finding_uid(c)


def test_the_uid_names_the_behaviour_and_the_model_is_an_attribute():
    """The same pair in the same hour, found by tonight's model after last night's: one
    finding id (so Security Hub and the alerts update it), each model named in the finding."""
    pair = _pair(-2.5)
    retrained = THRESHOLD.model_copy(update={"model_id": "ipi-2"})
    one, two = (
        findings_for([pair], threshold=t, source=SOURCE, bucket="lake", now_ms=n)[0]
        for t, n in ((THRESHOLD, 1), (retrained, 2))
    )
    assert one["finding_info"]["uid"] == two["finding_info"]["uid"] == finding_uid(pair)
    assert [f["finding_info"]["analytic"]["uid"] for f in (one, two)] == ["ipi-1", "ipi-2"]
    assert [f["unmapped"]["lakewatch.model_id"] for f in (one, two)] == ["ipi-1", "ipi-2"]
    assert one["metadata"]["uid"] != two["metadata"]["uid"]  # each model's piece its own
    for f in (one, two):
        assert validate_record(f, "1.1.0") == [], f
    other_ip = ScoredPair(
        "i-0abc", "45.1.2.4", "egress_peer", -2.5, True, 7, pair.first_ms, pair.last_ms
    )
    other_view = ScoredPair(
        "i-0abc/in", "45.1.2.3", "ingress_peer", -2.5, True, 7, pair.first_ms, pair.last_ms
    )
    assert len({finding_uid(p) for p in (pair, other_ip, other_view)}) == 3
