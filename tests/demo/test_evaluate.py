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
