"""Incidents: anomalous pairs grouped for an analyst, written as OCSF Detection Findings."""

import io

import pyarrow.parquet as pq

from lakewatch.demo.evaluate import score_incidents
from lakewatch.lake.layout import parse_key
from lakewatch.scoring.incidents import (
    Ends,
    Incident,
    connections,
    flagged_pairs,
    group,
    incident_finding,
    member_findings,
    other_end_findings,
)
from lakewatch.scoring.pair_findings import WINDOW_MS, ScoredPair
from lakewatch.scoring.storage import to_parquet
from lakewatch.threshold.published import PublishedThreshold

KEY = parse_key(
    "aws/VPC_FLOW/2.0/region=us-east-1/accountId=123456789012/eventDay=20261130/x.gz.parquet"
)


THRESHOLD = PublishedThreshold(threshold=0.0, model_id="ipi-1", score="detector", scale=1.0)


HOUR = 1_780_000 * WINDOW_MS


def pair(entity, ip, score, view="egress_peer", at=HOUR, known=True):
    return ScoredPair(entity, ip, view, score, known, 1, at, at + 10)


def test_one_address_across_instances_is_one_scan_and_the_rest_group_by_instance_and_hour():
    pairs = [
        *[pair(f"i-{k}/in", "198.51.100.7", -2.0 - k, view="ingress_peer") for k in range(4)],
        pair("i-a", "203.0.113.5", -1.0),
        pair("i-a", "203.0.113.6", -3.0),
        pair("i-a", "203.0.113.9", -1.0, at=HOUR + WINDOW_MS),  # the next hour
        pair("i-b", "10.0.0.1", 2.0),  # normal: above the threshold
        pair("i-c", "10.0.0.2", -5.0, known=False),  # unknown entity: not an incident
    ]
    incidents = group(pairs, 0.0)
    shapes = sorted((i.shape, i.subject, len(i.pairs)) for i in incidents)
    assert shapes == [("entity", "i-a", 1), ("entity", "i-a", 2), ("scan", "198.51.100.7", 4)]
    scan = next(i for i in incidents if i.shape == "scan")
    assert scan.instances == {"i-0", "i-1", "i-2", "i-3"}


def test_two_instances_on_one_address_are_not_a_scan():
    incidents = group([pair("i-a", "192.0.2.1", -1.0), pair("i-b", "192.0.2.1", -1.0)], 0.0)
    assert sorted(i.shape for i in incidents) == ["entity", "entity"]


def test_incident_findings_are_ocsf_detection_findings_with_their_pairs_as_evidence():
    pairs = [pair(f"i-{k}/in", "198.51.100.7", -2.0 - k, view="ingress_peer") for k in range(6)]
    (scan,) = group(pairs, 0.0)
    f = incident_finding(scan, threshold=THRESHOLD, source=KEY, bucket="lake", now_ms=HOUR)
    assert f["class_uid"] == 2004 and f["type_uid"] == 200401
    assert f["unmapped"]["lakewatch.kind"] == "incident"
    assert f["unmapped"]["lakewatch.incident_shape"] == "scan"
    assert len(f["evidences"]) == 6 and len(f["resources"]) == 6
    assert f["evidences"][0]["data"]["score"] == repr(-7.0)  # most anomalous first
    assert f["severity_id"] == 5  # 7 spreads below, across many instances
    again = incident_finding(scan, threshold=THRESHOLD, source=KEY, bucket="lake", now_ms=HOUR + 5)
    assert again["finding_info"]["uid"] == f["finding_info"]["uid"]  # one id per hour
    retrained = incident_finding(
        scan,
        threshold=THRESHOLD.model_copy(update={"model_id": "ipi-2"}),
        source=KEY,
        bucket="lake",
        now_ms=HOUR + 9,
    )
    # the next night's model finds the same incident under the same id, and says it found it
    assert retrained["finding_info"]["uid"] == f["finding_info"]["uid"]
    assert retrained["finding_info"]["analytic"]["uid"] == "ipi-2"
    assert retrained["unmapped"]["lakewatch.model_id"] == "ipi-2"
    assert retrained["metadata"]["uid"] != f["metadata"]["uid"]  # each model's own piece
    rows = pq.read_table(io.BytesIO(to_parquet([f]))).to_pylist()
    assert dict(rows[0]["unmapped"])["lakewatch.pairs"] == "6"


def test_incident_precision_and_event_recall_against_ground_truth():
    pairs = [
        pair("i-a", "203.0.113.5", -1.0),  # an injected event's pair
        pair("i-b", "198.18.0.1", -1.0),  # a false alarm
    ]
    findings = [
        incident_finding(i, threshold=THRESHOLD, source=KEY, bucket="b", now_ms=HOUR)
        for i in group(pairs, 0.0)
    ]
    labels = [
        {
            "event_id": "e1",
            "kind": "c2_beacon",
            "entity": "i-a",
            "ip": "203.0.113.5",
            "view": "egress_peer",
        },
        {
            "event_id": "e1",
            "kind": "c2_beacon",
            "entity": "i-a",
            "ip": "203.0.113.8",
            "view": "egress_peer",
        },
        {
            "event_id": "e2",
            "kind": "scan",
            "entity": "i-z",
            "ip": "198.51.100.1",
            "view": "ingress_peer",
        },
    ]
    card = score_incidents(findings, labels)
    assert (card.incidents, card.true_incidents) == (2, 1)
    assert (card.events, card.found_events) == (2, 1)
    assert card.by_kind == {
        "c2_beacon": {"events": 1, "found": 1},
        "scan": {"events": 1, "found": 0},
    }
    assert card.precision == 0.5 and card.recall == 0.5


def test_a_lone_pair_becomes_an_incident_only_when_extreme():
    pairs = [
        pair("i-a", "203.0.113.5", -1.0),  # alone and mild: a pair finding, no incident
        pair("i-b", "203.0.113.6", -9.0),  # alone but beyond the strict threshold
        pair("i-c", "203.0.113.7", -1.0),
        pair("i-c", "203.0.113.8", -1.5),  # two in one hour: corroborated
    ]
    incidents = group(pairs, 0.0, strict=-5.0)
    assert sorted((i.subject, len(i.pairs)) for i in incidents) == [("i-b", 1), ("i-c", 2)]
    assert len(group(pairs, 0.0)) == 3  # no strict threshold published: every group counts


def test_flags_are_weighed_against_the_instances_own_normal_tail():
    quiet = [pair("i-q", f"10.1.0.{k}", 1.0) for k in range(50)]
    quiet += [pair("i-q", "203.0.113.5", -1.0), pair("i-q", "203.0.113.6", -1.0)]
    busy = [
        pair("i-w/in", f"198.51.{k // 250}.{k % 250}", 1.0, "ingress_peer") for k in range(2000)
    ]
    busy += [pair("i-w/in", "192.0.2.1", -1.0, "ingress_peer")] * 2
    # At a 0.1% rate, two flags in 52 pairs are rare (p ~ 0.001): an incident; two in 2,002
    # pairs are what the tail gives (p ~ 0.6): not one.
    found = group(quiet + busy, 0.0, strict=-5.0, rate=0.001)
    assert [i.subject for i in found] == ["i-q"]
    # The same quiet instance, known to flag at 5% of its normal pairs: no longer an incident.
    assert group(quiet, 0.0, strict=-5.0, rate=0.001, entity_rates={"i-q": 0.05}) == []
    # One pair far beyond the strict threshold on a quiet instance still is.
    lone = [*quiet[:50], pair("i-q", "203.0.113.9", -9.0)]
    assert [i.subject for i in group(lone, 0.0, strict=-5.0, rate=0.001)] == ["i-q"]


def test_a_scan_may_gather_instances_under_the_loose_threshold():
    sweep = [pair(f"i-{k}/in", "10.0.9.9", -0.5, view="ingress_peer") for k in range(5)]
    loud = [*sweep[:4], pair("i-4/in", "10.0.9.9", -2.0, view="ingress_peer")]
    # under the loose threshold only: no scan, and no pair flagged at all
    assert group(sweep, -1.0, loose=0.0) == []
    (scan,) = group(loud, -1.0, loose=0.0)
    assert scan.shape == "scan" and len(scan.instances) == 5
    # without a loose threshold (older records) only the flagged pair counts: no scan
    assert [i.shape for i in group(loud, -1.0)] == ["entity"]


def test_answers_to_an_instances_own_connections_are_not_inbound_evidence():
    out = pair("i-a", "52.216.1.1", 1.0)  # the instance called S3 (normal)
    answer = pair("i-a/in", "52.216.1.1", -9.0, view="ingress_peer")  # S3 answering it
    stranger = pair("i-a/in", "198.51.100.9", -9.0, view="ingress_peer")
    assert group([out, answer], 0.0, strict=-5.0) == []
    [incident] = group([out, answer, stranger], 0.0, strict=-5.0)
    assert [p.ip for p in incident.pairs] == ["198.51.100.9"]


def test_a_scans_members_above_the_threshold_get_pair_findings_that_name_the_scan():
    pairs = [
        pair("i-0/in", "10.16.210.7", -2.0, view="ingress_peer"),  # under the threshold
        pair("i-1/in", "10.16.210.7", 0.5, view="ingress_peer"),  # under the loose one only
        pair("i-2/in", "10.16.210.7", 0.8, view="ingress_peer"),
        pair("i-5/in", "10.16.210.7", 4.0, view="ingress_peer"),  # familiar-looking: a target
        pair("i-3/in", "10.9.9.9", 0.5, view="ingress_peer"),  # another address: no scan
        pair("i-a", "203.0.113.5", -1.0),
        pair("i-a", "203.0.113.6", -3.0),  # an instance's incident: no extra findings
    ]
    incidents = group(pairs, 0.0, loose=1.0)
    scan = next(i for i in incidents if i.shape == "scan")
    found = member_findings(incidents, threshold=THRESHOLD, source=KEY, bucket="lake", now_ms=HOUR)
    flagged = [(f["evidences"][0]["data"]["entity"], f["observables"][1]["value"]) for f in found]
    assert flagged == [
        ("i-1/in", "10.16.210.7"),
        ("i-2/in", "10.16.210.7"),
        ("i-5/in", "10.16.210.7"),
    ]
    for f in found:
        assert f["unmapped"]["lakewatch.kind"] == "anomalous_pair"
        assert f["unmapped"]["lakewatch.corroborated_by"] == scan.uid()
        assert (
            "above the threshold 0.0000 but 10.16.210.7 reached 4 instances"
            in (f["finding_info"]["desc"])
        )
    assert (
        member_findings(
            [i for i in incidents if i.shape != "scan"],
            threshold=THRESHOLD,
            source=KEY,
            bucket="lake",
            now_ms=HOUR,
        )
        == []
    )


def test_a_connection_unusual_at_both_ends_is_an_incident_and_its_pairs_are_flagged():
    mine = {"i-a": {"10.16.20.5"}, "i-b": {"10.16.21.9"}, "i-c": {"10.16.22.1"}}
    attack = [
        pair("i-a", "10.16.21.9", -2.0),  # A's destination B: under the threshold
        pair("i-b/in", "10.16.20.5", 0.5, view="ingress_peer"),  # B's source A: loose only
    ]
    ordinary = [
        pair("i-a", "10.16.22.1", 0.5),  # unusual for A only: C sees A as usual
        pair("i-c/in", "10.16.20.5", 3.0, view="ingress_peer"),
        pair("i-c", "10.16.21.9", 0.5),  # both ends under loose, neither under threshold
        pair("i-b/in", "10.16.22.1", 0.6, view="ingress_peer"),
    ]
    (found,) = connections(Ends(attack + ordinary, mine), 0.0, 1.0)
    assert (found.shape, found.subject) == ("connection", "i-a -> i-b")
    assert found.instances == {"i-a", "i-b"} and found.pairs == attack
    assert connections(Ends(attack, mine), 0.0, None) == []  # no loose threshold: nothing
    unknown_b = Ends(attack, {"i-a": {"10.16.20.5"}})
    assert connections(unknown_b, 0.0, 1.0) == []  # B's address unknown
    f = incident_finding(found, threshold=THRESHOLD, source=KEY, bucket="lake", now_ms=HOUR)
    assert f["finding_info"]["title"] == "Unusual connection i-a -> i-b"
    assert sorted(r["uid"] for r in f["resources"]) == ["i-a", "i-b"]
    (member,) = member_findings(
        [found], threshold=THRESHOLD, source=KEY, bucket="lake", now_ms=HOUR
    )
    assert member["evidences"][0]["data"]["entity"] == "i-b/in"  # the end above the threshold
    assert "unusual at both ends" in member["finding_info"]["desc"]


def test_the_other_end_of_a_flagged_connection_is_flagged_whatever_it_scored():
    """Lateral movement whose victim sees the attacker as a usual client: B's record of the
    connection scores normal, but it is the same flows as A's flagged one."""
    mine = {"i-a": {"10.16.20.5"}, "i-b": {"10.16.21.9"}, "i-c": {"10.16.22.1"}}
    flagged = pair("i-a", "10.16.21.9", -2.0)
    victim_side = pair("i-b/in", "10.16.20.5", 5.0, view="ingress_peer")
    unrelated = [
        pair("i-c", "10.16.21.9", 4.0),  # C also reaches B: its own connection, not flagged
        pair("i-b/in", "10.16.22.1", 4.0, view="ingress_peer"),
        pair("i-a", "203.0.113.5", -3.0),  # an external address has no other end
    ]
    ends = Ends([flagged, victim_side, *unrelated], mine)
    assert ends.other_ends(victim_side) == [flagged]  # and back
    found = other_end_findings(
        ends, [flagged, unrelated[2]], threshold=THRESHOLD, source=KEY, bucket="lake", now_ms=HOUR
    )
    (f,) = found
    assert f["evidences"][0]["data"] == {"view": "ingress_peer", "entity": "i-b/in"}
    assert "i-b's record of the connection i-a -> i-b" in f["finding_info"]["desc"]
    assert "above the threshold" in f["finding_info"]["desc"]
    assert f["unmapped"]["lakewatch.corroborated_by"]  # the flagged end's finding
    # B's inbound record of A is an answer to B's own usual call to A: the call's verdict
    answer = Ends([flagged, victim_side, pair("i-b", "10.16.20.5", 3.0)], mine)
    kept = other_end_findings(
        answer, [flagged], threshold=THRESHOLD, source=KEY, bucket="lake", now_ms=HOUR
    )
    assert kept == []
    # both ends flagged already: nothing more
    both = other_end_findings(
        ends, [flagged, victim_side], threshold=THRESHOLD, source=KEY, bucket="lake", now_ms=HOUR
    )
    assert both == []


def test_flagged_pairs_are_those_under_the_threshold_and_scan_and_connection_members():
    under = pair("i-a", "203.0.113.5", -1.0)
    unknown = pair("i-c", "203.0.113.6", -5.0, known=False)  # an unknown_entity finding
    above = pair("i-b", "10.0.0.1", 2.0)
    member = pair("i-d/in", "10.16.210.7", 0.5, view="ingress_peer")
    scan = Incident("scan", "10.16.210.7", 0, [member])
    entity = Incident("entity", "i-a", 0, [under])
    assert flagged_pairs([under, unknown, above], [scan, entity], 0.0) == [under, member]


def test_an_inbound_sweep_takes_every_instance_it_reached_and_an_outbound_one_does_not():
    """A source under the loose threshold on three instances (one under the threshold) is a
    sweep: the instances it reached where it scored as familiar are its targets too. One
    destination many instances reach is judged pair by pair: its usual users stay out."""
    sweep = [
        pair("i-0/in", "10.16.210.7", -2.0, view="ingress_peer"),
        pair("i-1/in", "10.16.210.7", 0.5, view="ingress_peer"),
        pair("i-2/in", "10.16.210.7", 0.5, view="ingress_peer"),
        pair("i-3/in", "10.16.210.7", 6.0, view="ingress_peer"),
    ]
    (scan,) = group(sweep, 0.0, loose=1.0)
    assert scan.instances == {"i-0", "i-1", "i-2", "i-3"}
    outbound = [
        pair("i-0", "198.51.100.7", -2.0),
        pair("i-1", "198.51.100.7", 0.5),
        pair("i-2", "198.51.100.7", 0.5),
        pair("i-3", "198.51.100.7", 6.0),  # a usual destination of i-3
    ]
    (spread,) = group(outbound, 0.0, loose=1.0)
    assert spread.shape == "scan" and spread.instances == {"i-0", "i-1", "i-2"}


def test_an_answer_takes_its_calls_verdict():
    from lakewatch.scoring.incidents import answered

    pairs = [
        pair("i-a", "52.216.1.1", 1.0),  # a usual call to S3 ...
        pair("i-a/in", "52.216.1.1", -9.0, view="ingress_peer"),  # ... and S3's answer
        pair("i-a", "203.0.113.5", -3.0),  # a flagged beacon ...
        pair("i-a/in", "203.0.113.5", -2.0, view="ingress_peer"),  # ... and its answer
        pair("i-b/in", "52.216.1.1", -9.0, view="ingress_peer"),  # i-b never called it
    ]
    kept = answered(pairs, unless_under=0.0)
    assert [(p.entity, p.ip) for p in kept] == [
        ("i-a", "52.216.1.1"),
        ("i-a", "203.0.113.5"),
        ("i-a/in", "203.0.113.5"),
        ("i-b/in", "52.216.1.1"),
    ]
