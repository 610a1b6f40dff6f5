"""Findings scored against ground truth: the demo report's precision and recall."""

from lakewatch.demo.evaluate import score


def _finding(view, entity, ip, kind="anomalous_pair"):
    return {
        "unmapped": [("lakewatch.kind", kind), ("lakewatch.view", view)],
        "evidences": [{"data": [("entity", entity)]}],
        "observables": [{"value": entity}, {"value": ip}],
    }


def test_recall_and_precision_per_kind():
    labels = [
        {"kind": "scan", "view": "ingress_peer", "entity": "i-1", "ip": "9.9.9.9"},
        {"kind": "scan", "view": "ingress_peer", "entity": "i-2", "ip": "9.9.9.9"},
        {"kind": "c2_beacon", "view": "egress_peer", "entity": "i-1", "ip": "8.8.4.4"},
    ]
    findings = [
        _finding("ingress_peer", "i-1/in", "9.9.9.9"),  # a scan pair: ingress entities end /in
        _finding("ingress_peer", "i-2", "9.9.9.9"),  # wrong entity naming: not the label
        _finding("egress_peer", "i-3", "1.2.3.4"),  # a false positive
        _finding("egress_peer", "i-9", "5.5.5.5", kind="unknown_entity"),
    ]
    card = score(findings, labels)
    assert card.flagged == 3 and card.true_positives == 1 and card.unknown_entities == 1
    assert card.kinds["scan"] == {
        "labelled": 2,
        "flagged": 1,
        "recall": 0.5,
        "precision": 1 / 3,  # one hit over it plus the two flagged pairs that are no anomaly
    }
    assert card.kinds["c2_beacon"]["recall"] == 0.0
    assert card.precision == 1 / 3


def test_precision_at_the_top_counts_right_findings_among_the_first_k():
    from lakewatch.demo.evaluate import precision_at

    assert precision_at(["a", "b", "c", "d"], {"a", "c"}, k=2) == 0.5
    assert precision_at(["a", "b"], {"a", "b"}, k=10) == 1.0  # fewer than k: of those shown
    assert precision_at([], {"a"}) == 0.0


def test_right_findings_are_injected_pairs_and_incidents_holding_one():
    from lakewatch.demo.evaluate import true_uids

    labels = [{"kind": "scan", "view": "ingress_peer", "entity": "i-1", "ip": "9.9.9.9"}]

    def named(f, uid):
        return {**f, "finding_info": {"uid": uid}}

    def incident(uid, entity, ip):
        return {
            "finding_info": {"uid": uid},
            "unmapped": [("lakewatch.kind", "incident")],
            "evidences": [
                {"data": [("view", "ingress_peer"), ("entity", entity)], "src_endpoint": {"ip": ip}}
            ],
        }

    findings = [
        named(_finding("ingress_peer", "i-1/in", "9.9.9.9"), "pair-right"),
        named(_finding("egress_peer", "i-3", "1.2.3.4"), "pair-wrong"),
        incident("incident-right", "i-1/in", "9.9.9.9"),
        incident("incident-wrong", "i-4/in", "9.9.9.9"),
    ]
    assert true_uids(findings, labels) == {"pair-right", "incident-right"}


def test_the_churn_line_compares_new_instances_false_positives_with_old_ones():
    from lakewatch.demo.evaluate import churn_line

    labels = [{"kind": "scan", "view": "ingress_peer", "entity": "i-new", "ip": "9.9.9.9"}]
    findings = [
        _finding("ingress_peer", "i-new/in", "9.9.9.9"),  # the attack: not a false positive
        _finding("egress_peer", "i-new", "1.2.3.4"),
        _finding("egress_peer", "i-old1", "1.2.3.5"),
        _finding("egress_peer", "i-old1", "1.2.3.6"),
        _finding("egress_peer", "i-new2", "5.5.5.5", kind="unknown_entity"),
    ]
    line = churn_line(
        findings, labels, ["i-new", "i-new2", "i-old1", "i-old2"], {"i-new", "i-new2"}
    )
    assert line == (
        "churn: 2 of 4 instances new today; false-positive pairs per instance: new 0.50, "
        "old 1.00; unknown-entity findings of new instances: 1"
    )


def test_signins_are_scored_apart_from_the_network_kinds():
    from lakewatch.demo.evaluate import network_only, score_signins

    person, user = "sso:ann.lee", "arn:aws:iam::111122223333:user/legacy-admin"
    labels = [
        {"kind": "signin_new_network", "view": "signin", "entity": person, "ip": "45.1.1.1"},
        {"kind": "signin_failures", "view": "signin", "entity": user, "ip": "45.2.2.2"},
        {"kind": "c2_beacon", "view": "egress_peer", "entity": "i-1", "ip": "8.8.4.4"},
    ]
    findings = [
        _finding("signin", person, "45.1.1.1"),
        _finding("signin", person, "10.0.0.1"),  # a false sign-in finding
        _finding("egress_peer", "i-1", "8.8.4.4"),
    ]
    card = score_signins(findings, labels)
    assert (card.labelled, card.flagged, card.true_positives) == (2, 2, 1)
    assert card.line() == "signin: precision 50%, recall 50% (1 of 2 injected sign-ins)"
    assert card.by_kind["signin_failures"] == {"labelled": 1, "flagged": 0}
    net_findings, net_labels = network_only(findings, labels)
    network = score(net_findings, net_labels)
    assert list(network.kinds) == ["c2_beacon"] and network.precision == 1.0


H = 3_600_000
T0 = 1_780_000 * H


def _rcf_finding(instance, hour):
    return {
        "finding_info": {"uid": f"rcf-{instance}-{hour}"},
        "unmapped": [("lakewatch.kind", "rcf"), ("lakewatch.view", "rcf_features")],
        "resources": [{"uid": instance}],
        "start_time": T0 + hour * H,
        "evidences": [{"data": [("view", "rcf_features"), ("entity", instance)]}],
    }


def _label(kind, entity, hour, event, view="egress_peer", ip="10.0.0.9"):
    return {
        "kind": kind,
        "entity": entity,
        "ip": ip,
        "view": view,
        "event_id": event,
        "time": T0 + hour * H + 60_000,
    }


def test_rcf_kinds_are_measured_by_instance_hour():
    from lakewatch.demo.evaluate import score_rcf

    labels = [
        _label("rcf_admin_port", "i-1", 3, "e1"),
        _label("rcf_admin_port", "i-2", 3, "e1"),  # the same event at a peer
        _label("rcf_admin_port", "i-5", 9, "e2"),  # never flagged
        _label("rcf_volume_spike", "i-3", 4, "e3"),
        _label("exfiltration", "i-4", 7, "e4"),  # IP Insights' kind: an RCF hit is still right
    ]
    findings = [
        _rcf_finding("i-2", 3),
        _rcf_finding("i-3", 4),
        _rcf_finding("i-4", 7),
        _rcf_finding("i-1", 5),  # an hour with nothing injected: a false positive
        _finding("egress_peer", "i-1", "10.0.0.9"),  # a pair finding: not RCF's
    ]
    card = score_rcf(findings, labels)
    assert (card.findings, card.right) == (4, 3)
    assert card.by_kind == {
        "rcf_admin_port": {"events": 2, "found": 1, "findings": 1},
        "rcf_volume_spike": {"events": 1, "found": 1, "findings": 1},
    }
    assert card.lines() == [
        "rcf_admin_port: precision 50%, recall 50% (1 of 2 injected)",
        "rcf_volume_spike: precision 50%, recall 100% (1 of 1 injected)",
        "rcf: precision 67%, recall 67% (2 of 3 injected)",
    ]


def test_an_incident_with_rcf_evidence_is_right_on_an_injected_instance_hour():
    from lakewatch.demo.evaluate import score_incidents, true_uids

    def incident(uid, instance, hour):
        return {
            "finding_info": {"uid": uid},
            "unmapped": [("lakewatch.kind", "incident")],
            "start_time": T0 + hour * H,
            "evidences": [{"data": [("view", "rcf_features"), ("entity", instance)]}],
        }

    labels = [_label("rcf_new_protocol", "i-1", 2, "e1"), _label("scan", "i-2", 2, "e2")]
    findings = [incident("a", "i-1", 2), incident("b", "i-1", 3)]  # b: the hour after
    card = score_incidents(findings, labels)
    assert (card.incidents, card.true_incidents, card.events, card.found_events) == (2, 1, 2, 1)
    assert card.by_kind["rcf_new_protocol"] == {"events": 1, "found": 1}
    assert true_uids(findings, labels) == {"a"}


def test_a_flagged_rcf_pair_is_injected_but_no_pair_kind_of_its_own():
    labels = [
        {"kind": "c2_beacon", "view": "egress_peer", "entity": "i-1", "ip": "8.8.4.4"},
        _label("rcf_new_port_beacon", "i-2", 1, "e9", ip="45.1.2.3"),
    ]
    findings = [
        _finding("egress_peer", "i-1", "8.8.4.4"),
        _finding("egress_peer", "i-2", "45.1.2.3"),
    ]
    card = score(findings, labels)
    assert list(card.kinds) == ["c2_beacon"]
    assert card.kinds["c2_beacon"]["precision"] == 1.0  # the beacon's new peer is no false alarm
    assert (card.flagged, card.true_positives) == (2, 2)
