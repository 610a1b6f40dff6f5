"""Findings against known incidents: the issue's matching rule, pair by pair."""

from __future__ import annotations

from lakewatch.backtest.evaluate import matches, pairs_of, score_truth
from lakewatch.lake.truth import TruthRow

H = 3_600_000
T0 = 1_762_000_000_000


def _finding(uid, kind, pairs, start=T0, end=T0 + 60_000):
    return {
        "finding_info": {"uid": uid},
        "start_time": start,
        "end_time": end,
        "unmapped": {"lakewatch.kind": kind},
        "evidences": [
            {"dst_endpoint": {"ip": ip}, "src_endpoint": {"instance_uid": i}} for i, ip in pairs
        ],
    }


def test_a_finding_matches_within_an_hour_either_side_on_one_of_its_pairs():
    f = _finding("a", "anomalous_pair", [("i-1", "10.0.0.9")])
    assert pairs_of(f) == {("i-1", "10.0.0.9")}
    assert matches(f, TruthRow("scan", "i-1", "10.0.0.9", T0 + 60_000 + H, T0 + 2 * H))
    assert not matches(f, TruthRow("scan", "i-1", "10.0.0.9", T0 + 60_001 + H, T0 + 2 * H))
    assert matches(f, TruthRow("scan", "", "", T0 - 2 * H, T0 - H))
    assert not matches(f, TruthRow("scan", "i-2", "", T0, T0))
    assert not matches(f, TruthRow("scan", "", "10.0.0.8", T0, T0))


def test_a_sign_in_finding_matches_its_principal():
    """A sign-in finding has no instance: the truth file's entity is its principal."""
    principal = "arn:aws:iam::111122223333:user/reporting"
    f = {
        "finding_info": {"uid": "s"},
        "start_time": T0,
        "end_time": T0,
        "unmapped": {"lakewatch.kind": "anomalous_pair", "lakewatch.view": "signin"},
        "evidences": [{"actor": {"user": {"uid": principal}}, "src_endpoint": {"ip": "5.8.1.9"}}],
    }
    assert pairs_of(f) == {(principal, "5.8.1.9")}
    assert matches(f, TruthRow("access_key_new_address", principal, "5.8.1.9", T0, T0))
    assert not matches(f, TruthRow("access_key_new_address", "sso:ana@x", "5.8.1.9", T0, T0))


def test_an_incident_matches_through_a_pair_it_holds_not_a_mix_of_two():
    incident = _finding("x", "incident", [("i-1", "10.0.0.9"), ("i-2", "10.0.0.7")])
    assert matches(incident, TruthRow("lateral", "i-2", "10.0.0.7", T0, T0))
    assert not matches(incident, TruthRow("lateral", "i-1", "10.0.0.7", T0, T0))


def test_recall_precision_and_incidents_count_distinct_findings_and_rows_in_the_window():
    rows = [
        TruthRow("c2", "i-1", "1.2.3.4", T0, T0),
        TruthRow("c2", "i-3", "1.2.3.5", T0, T0),
        TruthRow("scan", "", "9.9.9.9", T0, T0),
        TruthRow("scan", "", "9.9.9.9", T0 - 48 * H, T0 - 47 * H),  # before the score days
    ]
    findings = [
        _finding("p1", "anomalous_pair", [("i-1", "1.2.3.4")]),
        _finding("p1", "anomalous_pair", [("i-1", "1.2.3.4")]),  # written by two objects
        _finding("p2", "anomalous_pair", [("i-9", "8.8.8.8")]),
        _finding("i1", "incident", [("i-5", "9.9.9.9"), ("i-6", "9.9.9.9")]),
        _finding("i2", "incident", [("i-7", "7.7.7.7")]),
    ]
    score = score_truth(findings, rows, T0 - H, T0 + 23 * H)
    assert score.rows == 3
    assert [(k, r.hit, r.of) for k, r in score.recall_by_kind.items()] == [
        ("c2", 1, 2),
        ("scan", 0, 1),
    ]
    assert (score.findings_precision.hit, score.findings_precision.of) == (1, 2)
    assert (score.incidents_precision.hit, score.incidents_precision.of) == (1, 2)
    assert (score.incidents_recall.hit, score.incidents_recall.of) == (1, 3)
    assert score.lines() == [
        "c2: recall 50% (1 of 2)",
        "scan: recall 0% (0 of 1)",
        "findings: precision 50% (1 of 2)",
        "incidents: precision 50% (1 of 2), recall 33% (1 of 3)",
    ]
