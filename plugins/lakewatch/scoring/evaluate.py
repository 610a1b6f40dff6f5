"""Findings against the synthetic lake's ground truth: recall and precision per anomaly kind."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

HOW_MEASURED = (
    "Precision and recall per anomaly kind are measured on the day the scorer processed in "
    "real time, against the generator's ground truth, over distinct (view, entity, address) "
    "pairs. Recall of a kind: its labelled pairs that got an anomaly finding. Precision of a "
    "kind: its correctly flagged pairs over those plus every flagged pair that is not an "
    "anomaly at all (as if it were the only kind of anomaly)."
)


@dataclass
class Scorecard:
    kinds: dict[str, dict[str, float]] = field(default_factory=dict)
    flagged: int = 0
    true_positives: int = 0
    unknown_entities: int = 0

    @property
    def precision(self) -> float:
        return self.true_positives / self.flagged if self.flagged else 0.0


def flagged_pairs(findings: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """(view, entity, address) of every anomalous-pair finding."""
    out = set()
    for f in findings:
        meta = dict(f["unmapped"])
        if meta["lakewatch.kind"] == "anomalous_pair":
            out.add(
                (
                    meta["lakewatch.view"],
                    dict(f["evidences"][0]["data"])["entity"],
                    f["observables"][1]["value"],
                )
            )
    return out


def labelled_pairs(labels: list[dict[str, Any]]) -> dict[str, set[tuple[str, str, str]]]:
    """Ground-truth labels as (view, entity, address) per kind, entities named as views name
    them (``ingress_peer`` marks its entities ``/in``)."""
    truth = defaultdict(set)
    for label in labels:
        entity = label["entity"] + ("/in" if label["view"] == "ingress_peer" else "")
        truth[label["kind"]].add((label["view"], entity, label["ip"]))
    return truth


def score(findings: list[dict[str, Any]], labels: list[dict[str, Any]]) -> Scorecard:
    flagged = flagged_pairs(findings)
    unknown = sum(1 for f in findings if dict(f["unmapped"])["lakewatch.kind"] != "anomalous_pair")
    truth = labelled_pairs(labels)
    every = set().union(*truth.values()) if truth else set()
    false_positives = len(flagged - every)
    card = Scorecard(
        flagged=len(flagged), true_positives=len(flagged & every), unknown_entities=unknown
    )
    for kind, pairs in sorted(truth.items()):
        tp = len(pairs & flagged)
        card.kinds[kind] = {
            "labelled": len(pairs),
            "flagged": tp,
            "recall": tp / len(pairs),
            "precision": tp / (tp + false_positives) if tp + false_positives else 0.0,
        }
    return card
