"""Findings against known incidents (``TRUTH.csv``): recall per kind, precision, incidents.

A finding matches a truth row when its time window overlaps the row's, widened by an hour on
each side, and one of its (entity, address) pairs names the row's entity (an instance, or a
sign-in's principal) and address (an empty one matches any). A finding's pairs are its
evidences: one for a pair finding, one per member for an incident, so an incident matches a
row only through a pair it holds, never through an instance of one member and the address of
another.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from lakewatch.lake.truth import TruthRow

SLACK_MS = 3_600_000


def kind_of(finding: dict[str, Any]) -> str:
    return str(dict(finding.get("unmapped") or {}).get("lakewatch.kind", ""))


def pairs_of(finding: dict[str, Any]) -> set[tuple[str, str]]:
    """(entity, address) pairs a finding names: the instance, or a sign-in's principal
    (``actor.user.uid``, the truth file's ``entity`` for sign-ins)."""
    out = set()
    for ev in finding.get("evidences") or []:
        ends = [ev.get("src_endpoint") or {}, ev.get("dst_endpoint") or {}]
        principal = ((ev.get("actor") or {}).get("user") or {}).get("uid", "")
        instance = next((e["instance_uid"] for e in ends if e.get("instance_uid")), principal)
        ip = next((e["ip"] for e in ends if e.get("ip")), "")
        out.add((instance, ip))
    if not out:
        instances = [r["uid"] for r in finding.get("resources") or []] or [""]
        ips = [o["value"] for o in finding.get("observables") or [] if o.get("type_id") == 2]
        out = {(i, ip) for i in instances for ip in ips or [""]}
    return out


def matches(finding: dict[str, Any], row: TruthRow) -> bool:
    start, end = int(finding.get("start_time") or 0), int(finding.get("end_time") or 0)
    if start > row.end_ms + SLACK_MS or end < row.start_ms - SLACK_MS:
        return False
    return any(
        (not row.entity or instance == row.entity) and (not row.address or ip == row.address)
        for instance, ip in pairs_of(finding)
    )


def in_window(row: TruthRow, first_ms: int, end_ms: int) -> bool:
    """Does the row's incident overlap the score days [first_ms, end_ms)?"""
    return row.start_ms < end_ms and row.end_ms >= first_ms


@dataclass
class Ratio:
    hit: int = 0
    of: int = 0

    @property
    def share(self) -> float:
        return self.hit / self.of if self.of else 0.0

    def text(self) -> str:
        return f"{self.share:.0%} ({self.hit} of {self.of})"


@dataclass
class TruthScore:
    recall_by_kind: dict[str, Ratio] = field(default_factory=dict)
    findings_precision: Ratio = field(default_factory=Ratio)
    incidents_precision: Ratio = field(default_factory=Ratio)
    incidents_recall: Ratio = field(default_factory=Ratio)
    rows: int = 0

    def lines(self) -> list[str]:
        out = [f"{kind}: recall {r.text()}" for kind, r in sorted(self.recall_by_kind.items())]
        return [
            *out,
            f"findings: precision {self.findings_precision.text()}",
            f"incidents: precision {self.incidents_precision.text()}, "
            f"recall {self.incidents_recall.text()}",
        ]

    def to_json(self) -> dict[str, Any]:
        def ratio(r: Ratio) -> dict[str, Any]:
            return {"hit": r.hit, "of": r.of, "share": r.share}

        return {
            "rows": self.rows,
            "recall_by_kind": {k: ratio(r) for k, r in sorted(self.recall_by_kind.items())},
            "findings_precision": ratio(self.findings_precision),
            "incidents_precision": ratio(self.incidents_precision),
            "incidents_recall": ratio(self.incidents_recall),
        }


class TruthTally:
    """Findings streamed in one at a time against the truth rows in the score window.

    Pieces of one finding written by several objects (the same uid) count once, and match when
    any piece does; an incident matches through its own pieces and through its members (the
    pair findings corroborated by it), so neither the evidences' cap nor the last object's
    piece decides. Memory: a small set per distinct finding, never the findings themselves."""

    def __init__(self, rows: list[TruthRow], first_ms: int, end_ms: int):
        self.rows = [r for r in rows if in_window(r, first_ms, end_ms)]
        self.hits: dict[str, set[int]] = {}
        self.kinds: dict[str, str] = {}
        self.members: dict[str, set[str]] = defaultdict(set)

    def add(self, finding: dict[str, Any]) -> None:
        uid = finding["finding_info"]["uid"]
        self.kinds[uid] = kind_of(finding)
        hits = self.hits.setdefault(uid, set())
        hits.update(n for n, row in enumerate(self.rows) if matches(finding, row))
        by = dict(finding.get("unmapped") or {}).get("lakewatch.corroborated_by")
        if by:
            self.members[str(by)].add(uid)

    def _incident_hits(self, uid: str) -> set[int]:
        out = set(self.hits[uid])
        for member in self.members.get(uid, ()):
            out |= self.hits.get(member, set())
        return out

    def score(self) -> TruthScore:
        incidents = [u for u, k in self.kinds.items() if k == "incident"]
        others = [u for u, k in self.kinds.items() if k != "incident"]
        out = TruthScore(rows=len(self.rows))
        out.findings_precision = Ratio(sum(bool(self.hits[u]) for u in others), len(others))
        recalled = set().union(*(self.hits[u] for u in others)) if others else set()
        by_incidents = [self._incident_hits(u) for u in incidents]
        out.incidents_precision = Ratio(sum(bool(h) for h in by_incidents), len(incidents))
        out.incidents_recall = Ratio(len(set().union(*by_incidents)), len(self.rows))
        for n, row in enumerate(self.rows):
            ratio = out.recall_by_kind.setdefault(row.kind, Ratio())
            ratio.of += 1
            ratio.hit += n in recalled
        return out


def score_truth(
    findings: list[dict[str, Any]], rows: list[TruthRow], first_ms: int, end_ms: int
) -> TruthScore:
    tally = TruthTally(rows, first_ms, end_ms)
    for finding in findings:
        tally.add(finding)
    return tally.score()
