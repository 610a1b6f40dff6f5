"""A day's findings, read back from the scorer's Parquet files for review.

The scorer writes one OCSF Detection Finding file per lake object and model under
``<findings_prefix>region=/accountId=/eventDay=YYYYMMDD/``; review flattens each finding to
the row an analyst scans (severity, kind, instance or, for a sign-in, the principal with its MFA
and outcome, address, score, source object) and keeps the finding itself for ``show``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import pyarrow.parquet as pq

from lakewatch.lake.security_hub import Evidence
from lakewatch.lake.sink import day_partition_keys
from lakewatch.review.reputation import Match, Reputation

# Security Hub evidence counts for a finding when it is this close to the finding's first event
EVIDENCE_WINDOW_MS = 6 * 3_600_000


class FindingNotFound(ValueError):
    """No finding of that uid (or uid prefix) in the days searched."""


# ``scoring.rcf_findings.KIND`` and ``VIEW``: an RCF score is higher for a more anomalous hour,
# on an RCF finding and on the incident one opens (the review sits below scoring, so it names
# them itself)
RCF_KIND = "rcf"
RCF_VIEW = "rcf_features"


@dataclass(frozen=True)
class Row:
    uid: str
    day: str
    severity_id: int
    severity: str
    kind: str
    title: str
    instances: tuple[str, ...]
    addresses: tuple[str, ...]
    view: str
    score: float | None
    threshold: float | None
    model_id: str
    source_object: str
    start_time: int
    count: int
    reputation: float | None = None  # the worst of its addresses on the user's list (0-100)
    reputation_cidr: str = ""
    reputation_source: str = ""
    corroborated_by: tuple[str, ...] = ()  # Security Hub findings on its instance or address
    corroboration: float = 0.0  # 2: one names its address, 1: only its instance
    # a sign-in's (the signin view): the principal that signed in, instead of an instance,
    # whether it used MFA ("true", "false", "" unknown) and the outcome (Success, Failure)
    principal: str = ""
    mfa: str = ""
    outcome: str = ""

    @property
    def entity(self) -> str:
        """Who the finding is about: the principal of a sign-in, else its instances."""
        return self.principal or ",".join(self.instances)

    @property
    def signin(self) -> str:
        """A sign-in's MFA and outcome as an analyst reads them ("" for a network finding)."""
        if not self.principal:
            return ""
        mfa = {"true": "MFA", "false": "no MFA"}.get(self.mfa, "MFA unknown")
        return f"{mfa}, {self.outcome or 'Unknown'}"

    @property
    def is_rcf(self) -> bool:
        """A Random Cut Forest finding (or the incident one opened): an instance-hour, scored
        higher when more anomalous, with no address pairs of its own."""
        return self.kind == RCF_KIND or self.view == RCF_VIEW

    @property
    def priority(self) -> float:
        """Severity, raised by up to two levels by a bad reputation and up to two by Security
        Hub (GuardDuty) findings on the same address or instance: evidence from two sources."""
        return self.severity_id + 2.0 * (self.reputation or 0.0) / 100.0 + self.corroboration

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.__dict__,
            "instances": list(self.instances),
            "addresses": list(self.addresses),
            "corroborated_by": list(self.corroborated_by),
        }


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def row_of(finding: dict[str, Any], day: str) -> Row:
    unmapped = dict(finding.get("unmapped") or [])
    observables = finding.get("observables") or []
    return Row(
        uid=finding["finding_info"]["uid"],
        day=day,
        severity_id=int(finding["severity_id"]),
        severity=str(finding["severity"]),
        kind=unmapped.get("lakewatch.kind", ""),
        title=finding["finding_info"]["title"],
        instances=tuple(r["uid"] for r in finding.get("resources") or []),
        addresses=tuple(o["value"] for o in observables if o.get("type") == "IP Address"),
        view=unmapped.get("lakewatch.view", ""),
        score=_float(unmapped.get("lakewatch.score")),
        threshold=_float(unmapped.get("lakewatch.threshold")),
        model_id=unmapped.get("lakewatch.model_id", ""),
        source_object=unmapped.get("lakewatch.source_object", ""),
        start_time=int(finding.get("start_time") or 0),
        count=int(finding.get("count") or 0),
        principal=unmapped.get("lakewatch.principal", ""),
        mfa=unmapped.get("lakewatch.mfa", ""),
        outcome=unmapped.get("lakewatch.outcome", ""),
    )


def day_keys(store: Any, prefix: str, day: date) -> list[str]:
    """The day's findings files, every region and account."""
    return [k for k in day_partition_keys(store, prefix, day) if k.endswith(".parquet")]


def read_day(store: Any, prefix: str, day: date) -> list[dict[str, Any]]:
    """Every finding of the day, as written (OCSF dicts)."""
    out: list[dict[str, Any]] = []
    for key in day_keys(store, prefix, day):
        out.extend(pq.read_table(io.BytesIO(store.get(key))).to_pylist())
    return out


def rank(
    rows: list[Row], reputation: Reputation | None = None, evidence: list[Evidence] | None = None
) -> list[Row]:
    """Rows, highest priority first (severity, raised by the addresses' reputation and by
    Security Hub findings on them), then most anomalous score (the lowest IP Insights score,
    the highest RCF one); the same finding written twice (an object scored again) is listed
    once."""
    out = list({r.uid: r for r in rows}.values())
    if reputation is not None:
        out = [_with_reputation(r, reputation.worst(r.addresses)) for r in out]
    if evidence:
        out = [corroborated(r, evidence) for r in out]
    return sorted(out, key=lambda r: (-r.priority, _unusual_first(r), r.uid))


def _unusual_first(row: Row) -> float:
    """A sort key that puts the more anomalous score first, whichever way up it is."""
    score = row.score if row.score is not None else 0.0
    return -score if row.is_rcf else score


def corroborated(row: Row, evidence: list[Evidence]) -> Row:
    """``row`` with the Security Hub findings that name its address (worth two levels) or
    only its instance (one: an instance's unrelated findings are common) near its time."""
    named = [
        e
        for e in evidence
        if abs(e.time - row.start_time) <= EVIDENCE_WINDOW_MS
        and e.names(row.instances, row.addresses)
    ]
    if not named:
        return row
    on_address = any(set(e.addresses) & set(row.addresses) for e in named)
    return replace(
        row,
        corroborated_by=tuple(sorted({e.title for e in named})),
        corroboration=2.0 if on_address else 1.0,
    )


def _with_reputation(row: Row, match: Match | None) -> Row:
    if match is None:
        return row
    return replace(
        row, reputation=match.score, reputation_cidr=match.cidr, reputation_source=match.source
    )


def find(findings: list[dict[str, Any]], uid: str) -> dict[str, Any]:
    """The finding whose uid is ``uid`` or starts with it (8 characters are plenty)."""
    hits = {
        f["finding_info"]["uid"]: f for f in findings if f["finding_info"]["uid"].startswith(uid)
    }
    if len(hits) != 1:
        raise FindingNotFound(
            f"{len(hits)} findings match {uid!r}" + (": give more of the uid" if hits else "")
        )
    return next(iter(hits.values()))
