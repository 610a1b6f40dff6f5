"""Findings against the synthetic lake's ground truth: recall and precision per anomaly kind."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from lakewatch.extract.views import View
from lakewatch.lake.synthetic.options import RCF_KINDS
from lakewatch.scoring.pair_findings import WINDOW_MS as HOUR_MS
from lakewatch.scoring.rcf_findings import KIND as RCF_KIND
from lakewatch.scoring.rcf_findings import VIEW as RCF_VIEW

HOW_MEASURED = (
    "Precision and recall per anomaly kind are measured on the day the scorer processed in "
    "real time, against the generator's ground truth, over distinct (view, entity, address) "
    "pairs. Recall of a kind: its labelled pairs that got an anomaly finding. Precision of a "
    "kind: its correctly flagged pairs over those plus every flagged pair that is not an "
    "anomaly at all (as if it were the only kind of anomaly). The network kinds and all kinds "
    "count the network views; sign-ins (the signin view: a principal and the address it "
    "signed in from) are measured apart, every injected sign-in kind together. The Random Cut "
    "Forest's kinds (rcf_*) are measured by instance-hour: an injected event is found when an "
    "RCF finding names an instance and hour it wrote rows in; an RCF finding is right when "
    "its instance-hour holds an injected row of any kind. Incidents count the network and "
    "RCF kinds: an incident is right when one of its pairs is injected or its RCF evidence "
    "names an injected instance-hour."
)


def is_signin_label(label: dict[str, Any]) -> bool:
    return label["view"] == View.SIGNIN


def is_rcf_label(label: dict[str, Any]) -> bool:
    """A row of the Random Cut Forest's kinds."""
    return label["kind"] in RCF_KINDS


def label_hour(label: dict[str, Any]) -> tuple[str, int]:
    """(instance, hour index) a labelled row was written in."""
    return str(label["entity"]), int(label["time"]) // HOUR_MS


def rcf_hours(findings: list[dict[str, Any]]) -> set[tuple[str, int]]:
    """(instance, hour index) of every RCF finding."""
    return {
        (str(f["resources"][0]["uid"]), int(f["start_time"]) // HOUR_MS)
        for f in findings
        if dict(f["unmapped"])["lakewatch.kind"] == RCF_KIND
    }


@dataclass
class RcfCard:
    """RCF findings against the injected RCF events, by instance-hour (``HOW_MEASURED``)."""

    findings: int = 0
    right: int = 0  # on an instance-hour holding an injected row of any kind
    by_kind: dict[str, dict[str, int]] = field(default_factory=dict)

    def _line(self, name: str, found: int, events: int, true_positives: int) -> str:
        false_positives = self.findings - self.right
        flagged = true_positives + false_positives
        precision = true_positives / flagged if flagged else 0.0
        recall = found / events if events else 0.0
        return (
            f"{name}: precision {precision:.0%}, recall {recall:.0%} ({found} of {events} injected)"
        )

    def lines(self) -> list[str]:
        """One closing line a kind (``KIND: precision P%, recall R% (m of n injected)``),
        then ``rcf:`` for them all."""
        out = [
            self._line(kind, v["found"], v["events"], v["findings"])
            for kind, v in sorted(self.by_kind.items())
        ]
        if self.by_kind:
            mine = sum(v["findings"] for v in self.by_kind.values())
            found = sum(v["found"] for v in self.by_kind.values())
            events = sum(v["events"] for v in self.by_kind.values())
            out.append(self._line(RCF_KIND, found, events, mine))
        return out


def score_rcf(findings: list[dict[str, Any]], labels: list[dict[str, Any]]) -> RcfCard:
    flagged = rcf_hours(findings)
    every = {label_hour(label) for label in labels}
    events: dict[str, tuple[str, set[tuple[str, int]]]] = {}
    for label in labels:
        if is_rcf_label(label):
            _, hours = events.setdefault(label["event_id"], (label["kind"], set()))
            hours.add(label_hour(label))
    card = RcfCard(findings=len(flagged), right=len(flagged & every))
    kinds: dict[str, set[tuple[str, int]]] = defaultdict(set)
    for kind, hours in events.values():
        row = card.by_kind.setdefault(kind, {"events": 0, "found": 0, "findings": 0})
        row["events"] += 1
        row["found"] += bool(hours & flagged)
        kinds[kind] |= hours
    for kind, hours in kinds.items():
        card.by_kind[kind]["findings"] = len(hours & flagged)
    return card


@dataclass
class SigninCard:
    """Sign-in findings against the injected sign-ins: distinct (principal, address) pairs."""

    labelled: int = 0
    flagged: int = 0
    true_positives: int = 0
    by_kind: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def precision(self) -> float:
        return self.true_positives / self.flagged if self.flagged else 0.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.labelled if self.labelled else 0.0

    def line(self) -> str:
        """The closing line: ``signin: precision P%, recall R% (m of n injected sign-ins)``."""
        return (
            f"signin: precision {self.precision:.0%}, recall {self.recall:.0%} "
            f"({self.true_positives} of {self.labelled} injected sign-ins)"
        )


def score_signins(findings: list[dict[str, Any]], labels: list[dict[str, Any]]) -> SigninCard:
    flagged = {p for p in flagged_pairs(findings) if p[0] == View.SIGNIN}
    truth = labelled_pairs([label for label in labels if is_signin_label(label)])
    every = set().union(*truth.values()) if truth else set()
    card = SigninCard(
        labelled=len(every), flagged=len(flagged), true_positives=len(flagged & every)
    )
    for kind, pairs in sorted(truth.items()):
        card.by_kind[kind] = {"labelled": len(pairs), "flagged": len(pairs & flagged)}
    return card


def network_only(
    findings: list[dict[str, Any]], labels: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The findings and labels of the network views (sign-ins left to ``score_signins``; the
    RCF kinds' labels kept: ``pair_kinds`` leaves them to ``score_rcf``)."""
    return (
        [f for f in findings if dict(f["unmapped"]).get("lakewatch.view") != View.SIGNIN],
        [label for label in labels if not is_signin_label(label)],
    )


def pair_kinds(labels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The labels of the kinds IP Insights' pairs are measured on (the RCF kinds left out)."""
    return [label for label in labels if not is_rcf_label(label)]


@dataclass
class Scorecard:
    kinds: dict[str, dict[str, float]] = field(default_factory=dict)
    flagged: int = 0
    true_positives: int = 0
    unknown_entities: int = 0

    @property
    def precision(self) -> float:
        return self.true_positives / self.flagged if self.flagged else 0.0


def pair_of(finding: dict[str, Any]) -> tuple[str, str, str] | None:
    """(view, entity, address) of an anomalous-pair finding; None for other kinds."""
    meta = dict(finding["unmapped"])
    if meta["lakewatch.kind"] != "anomalous_pair":
        return None
    return (
        meta["lakewatch.view"],
        dict(finding["evidences"][0]["data"])["entity"],
        finding["observables"][1]["value"],
    )


def flagged_pairs(findings: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """(view, entity, address) of every anomalous-pair finding."""
    return {pair for f in findings if (pair := pair_of(f)) is not None}


def labelled_pairs(labels: list[dict[str, Any]]) -> dict[str, set[tuple[str, str, str]]]:
    """Ground-truth labels as (view, entity, address) per kind, entities named as views name
    them (``ingress_peer`` marks its entities ``/in``)."""
    truth = defaultdict(set)
    for label in labels:
        entity = label["entity"] + ("/in" if label["view"] == View.INGRESS_PEER else "")
        truth[label["kind"]].add((label["view"], entity, label["ip"]))
    return truth


@dataclass
class IncidentCard:
    """Incidents against ground truth: an incident is right when any of its pairs is an
    injected anomaly; an injected event (one ``event_id``) is found when any of its pairs is
    in some incident. Pieces of one incident written by several objects count once (by uid)."""

    incidents: int = 0
    true_incidents: int = 0
    events: int = 0
    found_events: int = 0
    by_kind: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def precision(self) -> float:
        return self.true_incidents / self.incidents if self.incidents else 0.0

    @property
    def recall(self) -> float:
        return self.found_events / self.events if self.events else 0.0


def incident_rcf_hours(findings: list[dict[str, Any]]) -> dict[str, set[tuple[str, int]]]:
    """(instance, hour index) of each incident's RCF evidence, merged by incident uid."""
    out: dict[str, set[tuple[str, int]]] = defaultdict(set)
    for f in findings:
        if dict(f["unmapped"])["lakewatch.kind"] != "incident":
            continue
        for ev in f["evidences"]:
            data = dict(ev["data"])
            if data["view"] == RCF_VIEW:
                out[f["finding_info"]["uid"]].add(
                    (str(data["entity"]), int(f["start_time"]) // HOUR_MS)
                )
    return out


def incident_pairs(findings: list[dict[str, Any]]) -> dict[str, set[tuple[str, str, str]]]:
    """(view, entity, address) of each incident's pairs, merged by incident uid."""
    out: dict[str, set[tuple[str, str, str]]] = defaultdict(set)
    for f in findings:
        if dict(f["unmapped"])["lakewatch.kind"] != "incident":
            continue
        for ev in f["evidences"]:
            data = dict(ev["data"])
            ip = (ev.get("dst_endpoint") or {}).get("ip") or (ev.get("src_endpoint") or {}).get(
                "ip"
            )
            out[f["finding_info"]["uid"]].add((data["view"], data["entity"], str(ip or "")))
    return out


def score_incidents(findings: list[dict[str, Any]], labels: list[dict[str, Any]]) -> IncidentCard:
    """Incidents against the labels: by their pairs, and by the instance-hours of their RCF
    evidence (an RCF finding names no address)."""
    incidents = incident_pairs(findings)
    hours_of = incident_rcf_hours(findings)
    every: set[tuple[str, str, str]] = set()
    every_hour: set[tuple[str, int]] = set()
    events: dict[str, tuple[str, set[tuple[str, str, str]], set[tuple[str, int]]]] = {}
    for label in labels:
        entity = label["entity"] + ("/in" if label["view"] == View.INGRESS_PEER else "")
        pair = (label["view"], entity, label["ip"])
        every.add(pair)
        kind, pairs, hours = events.setdefault(
            label.get("event_id", str(pair)), (label["kind"], set(), set())
        )
        pairs.add(pair)
        if "time" in label:
            every_hour.add(label_hour(label))
            hours.add(label_hour(label))
    covered = set().union(*incidents.values()) if incidents else set()
    covered_hours = set().union(*hours_of.values()) if hours_of else set()
    card = IncidentCard(
        incidents=len(incidents),
        true_incidents=sum(
            1
            for uid, pairs in incidents.items()
            if pairs & every or hours_of.get(uid, set()) & every_hour
        ),
        events=len(events),
    )
    for kind, pairs, hours in events.values():
        row = card.by_kind.setdefault(kind, {"events": 0, "found": 0})
        row["events"] += 1
        if pairs & covered or hours & covered_hours:
            row["found"] += 1
            card.found_events += 1
    return card


def score(findings: list[dict[str, Any]], labels: list[dict[str, Any]]) -> Scorecard:
    flagged = flagged_pairs(findings)
    unknown = sum(1 for f in findings if dict(f["unmapped"])["lakewatch.kind"] == "unknown_entity")
    truth = labelled_pairs(labels)
    every = set().union(*truth.values()) if truth else set()
    false_positives = len(flagged - every)
    card = Scorecard(
        flagged=len(flagged), true_positives=len(flagged & every), unknown_entities=unknown
    )
    for kind, pairs in sorted(truth.items()):
        if kind in RCF_KINDS:  # by instance-hour: ``score_rcf``; its pairs count
            continue  # as injected (a flagged beacon's new peer is no false positive)
        tp = len(pairs & flagged)
        card.kinds[kind] = {
            "labelled": len(pairs),
            "flagged": tp,
            "recall": tp / len(pairs),
            "precision": tp / (tp + false_positives) if tp + false_positives else 0.0,
        }
    return card


def true_uids(findings: list[dict[str, Any]], labels: list[dict[str, Any]]) -> set[str]:
    """Uids of the findings that are right: an anomalous pair that was injected, or an
    incident holding one."""
    truth = labelled_pairs(labels)
    every = set().union(*truth.values()) if truth else set()
    hours = {label_hour(label) for label in labels if "time" in label}
    out = {uid for uid, pairs in incident_pairs(findings).items() if pairs & every}
    out |= {uid for uid, mine in incident_rcf_hours(findings).items() if mine & hours}
    out |= {
        f["finding_info"]["uid"] for f in findings if rcf_hours([f]) & hours
    }  # an RCF finding on an injected instance-hour
    return out | {f["finding_info"]["uid"] for f in findings if pair_of(f) in every}


def precision_at(ranked_uids: list[str], right: set[str], k: int = 10) -> float:
    """Share of the first ``k`` ranked findings that are right (what on-call reads first)."""
    top = ranked_uids[:k]
    return sum(1 for uid in top if uid in right) / len(top) if top else 0.0


def churn_line(
    findings: list[dict[str, Any]],
    labels: list[dict[str, Any]],
    instances: list[str],
    new: set[str],
) -> str:
    """New instances against old (``--churn``): false-positive pairs per instance of each,
    and the new ones' unknown-entity findings. A new instance has the same behaviour as the
    one it replaced, so a detector that scores it as its group flags it no more often."""
    truth = labelled_pairs(labels)
    every = set().union(*truth.values()) if truth else set()
    per = Counter(entity.removesuffix("/in") for _, entity, _ in flagged_pairs(findings) - every)
    old = [i for i in instances if i not in new]
    mine = [i for i in instances if i in new]
    unknown = sum(
        1
        for f in findings
        if dict(f["unmapped"])["lakewatch.kind"] == "unknown_entity"
        and dict(f["evidences"][0]["data"])["entity"].removesuffix("/in") in new
    )

    def rate(group: list[str]) -> float:
        return sum(per[i] for i in group) / len(group) if group else 0.0

    return (
        f"churn: {len(mine)} of {len(instances)} instances new today; false-positive pairs "
        f"per instance: new {rate(mine):.2f}, old {rate(old):.2f}; unknown-entity findings "
        f"of new instances: {unknown}"
    )
