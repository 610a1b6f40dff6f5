"""Findings for the ``signin`` view: "Sign-in from an unusual address" (OCSF 2004).

A CloudTrail object's pairs are principals and the addresses they signed in from
(``extract.signin``); the network views' incidents (scans, connections, an instance's hour)
say nothing about them, so a sign-in pair is a finding on its own: ``anomalous_pair`` when it
scores under the threshold, ``unknown_entity`` when the model never saw the principal. The
finding, on ``pair_findings.base_finding`` like the others and with the same behaviour uid
(principal, address, ``signin``, hour), names

- the principal: ``resources[0]`` (its uid and kind) and ``evidences[0].actor.user``;
- the address: ``evidences[0].src_endpoint.ip``;
- whether MFA was used: ``evidences[0].actor.session.is_mfa``, ``unmapped['lakewatch.mfa']``
  (``true``, ``false``, ``unknown``): aggregated over the pair's sign-ins, any sign-in without
  MFA makes the pair one without (``SignInPair.mfa``);
- the outcome (``Success``, ``Failure``, both or ``Unknown``);
- the principal's usual networks, as far as the scorer can say cheaply: the detector's history
  holds each principal's training pairs by prefix as hashed keys, so it tells how many of the
  principal's training pairs were in this address's /24 and /16 (``PrincipalHistory``), not
  which prefixes they were; the prefixes themselves are the review page's
  (``review.usual``, from the model's training window). Without a detector only the model's
  known-entity answer is there.

A sign-in not shown to use MFA (without it, or not recorded) ranks above one with it: its
severity is one level higher (the review ranks by severity first, ``review.rows.rank``).

Each anomalous sign-in is also a step-up event (``step_up_entry``) the scorer puts on the
EventBridge bus ``ScorerConfig.step_up_event_bus`` once the findings are stored.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakewatch.extract.views import View
from lakewatch.lake.layout import LakeKey
from lakewatch.model.detector import Detector
from lakewatch.model.encoding import entity_hashes, parse_addresses
from lakewatch.model.history import FEATURES
from lakewatch.scoring.pair_findings import (
    ScoredPair,
    base_finding,
    finding_uid,
    severity_for,
)
from lakewatch.threshold.published import PublishedThreshold

TITLE = "Sign-in from an unusual address"
EVENT_SOURCE = "lakewatch"
EVENT_DETAIL_TYPE = "Unusual sign-in"
MFA_TEXT = {True: "true", False: "false", None: "unknown"}


@dataclass(frozen=True)
class PrincipalHistory:
    """What the detector's history says of a principal and an address: its training pairs in
    all, and those in the address's /24 and /16."""

    pairs: int
    in_24: int
    in_16: int


@dataclass
class SignInPair:
    pair: ScoredPair
    mfa_used: int  # the pair's sign-ins with MFA
    mfa_not_used: int  # ... without it (those that say neither count in neither)
    succeeded: int
    failed: int
    history: PrincipalHistory | None = None

    @property
    def mfa(self) -> bool | None:
        """False when any sign-in of the pair went without MFA, True when every one that says
        used it, None when none says."""
        if self.mfa_not_used:
            return False
        return True if self.mfa_used else None

    @property
    def outcome(self) -> str:
        if self.succeeded and self.failed:
            return "Success and Failure"
        if self.succeeded:
            return "Success"
        if self.failed:
            return "Failure"
        return "Unknown"


def detector_history(
    detector: Detector,
) -> Callable[[list[str], list[str]], list[PrincipalHistory]]:
    """``signin_pairs``'s ``history``: each (principal, address)'s counts from the detector's
    history features (log1p counts of the principal's training pairs per prefix)."""
    cols = [FEATURES.index(c) for c in ("entity_activity", "entity_24", "entity_16")]

    def look(entities: list[str], ips: list[str]) -> list[PrincipalHistory]:
        # the principals' own history when the detector is split by population
        history = (getattr(detector, "signin", None) or detector).history
        x = history.features(entity_hashes(entities), parse_addresses(ips))
        counts = np.rint(np.expm1(x[:, cols].astype(np.float64))).astype(np.int64)
        return [PrincipalHistory(int(a), int(b), int(c)) for a, b, c in counts.tolist()]

    return look


def principal_kind(principal: str) -> str:
    """The principal's kind as a resource type (``extract.signin``'s normalised names)."""
    if principal.startswith("sso:"):
        return "AWS::SSO::User"
    if ":role/" in principal:
        return "AWS::IAM::Role"
    if ":user/" in principal:
        return "AWS::IAM::User"
    if principal.endswith(":root"):
        return "AWS::IAM::Root"
    if ":federated-user/" in principal:
        return "AWS::STS::FederatedUser"
    return "AWS::IAM::Principal"


def principal_name(principal: str) -> str:
    """The principal's short name: the person, user or role name."""
    return principal.removeprefix("sso:").rsplit("/", 1)[-1]


def _network(ip: str, bits: int) -> str:
    try:
        return str(ipaddress.ip_network(f"{ip}/{bits}", strict=False))
    except ValueError:
        return f"{ip}/{bits}"


def usual_networks(sp: SignInPair) -> str:
    """The finding's words on the principal's usual networks (see the module's docstring)."""
    ip = sp.pair.ip
    if not sp.pair.known_entity:
        return "none known: the model never saw this principal"
    h = sp.history
    if h is None:
        return (
            "the model knows the principal; its usual networks are on the review page "
            "(the model's training window)"
        )
    if not h.pairs:
        return (
            "the principal has no training pairs of its own (scored as the known principal "
            "whose networks its sign-ins resemble)"
        )
    return (
        f"{h.in_24} of the principal's {h.pairs} training pair(s) from {_network(ip, 24)} and "
        f"{h.in_16} from {_network(ip, 16)}; its usual /24s are on the review page"
    )


def signin_finding(
    sp: SignInPair,
    kind: str,
    *,
    threshold: PublishedThreshold,
    source: LakeKey,
    bucket: str,
    now_ms: int,
) -> dict[str, Any]:
    """One sign-in pair's finding (``kind``: ``anomalous_pair`` or ``unknown_entity``)."""
    pair = sp.pair
    principal, ip = pair.entity, pair.ip
    mfa = MFA_TEXT[sp.mfa]
    if kind == "unknown_entity":
        severity = 1
        title = f"Principal {principal} unknown to the model"
        desc = (
            f"{principal} was not in the model's training data, so its score for the sign-in "
            f"from {ip} says nothing; review it or retrain. MFA: {mfa}; outcome: {sp.outcome}."
        )
    else:
        base = severity_for(pair.score, threshold.threshold, threshold.scale)
        severity = min(5, base + (0 if sp.mfa is True else 1))  # no MFA shown: one level up
        scorer = (
            "lakewatch's detector (IP Insights plus history)"
            if threshold.of_detector
            else "IP Insights"
        )
        title = f"{TITLE}: {principal} from {ip}"
        desc = (
            f"{scorer} scored the sign-in of {principal} from {ip} at {pair.score:.4f}, below "
            f"the threshold {threshold.threshold:.4f} (target false-positive rate "
            f"{threshold.target_fpr or 0:.3%}); {pair.count} sign-in(s) in {source.key}, "
            f"MFA: {mfa}, outcome: {sp.outcome}. Usual networks: {usual_networks(sp)}."
        )
    finding = base_finding(
        uid=finding_uid(pair),
        kind=kind,
        title=title,
        desc=desc,
        severity=severity,
        first_ms=pair.first_ms,
        last_ms=pair.last_ms,
        count=pair.count,
        threshold=threshold,
        source=source,
        bucket=bucket,
        now_ms=now_ms,
        instances=[],
    )
    finding["resources"] = [
        {
            "uid": principal,
            "type": principal_kind(principal),
            "cloud_partition": "aws",
            "region": source.region,
        }
    ]
    finding["observables"] = [
        {"name": "resources[0].uid", "type": "Resource UID", "type_id": 10, "value": principal},
        {"name": "evidences[0].src_endpoint.ip", "type": "IP Address", "type_id": 2, "value": ip},
    ]
    session = {} if sp.mfa is None else {"session": {"is_mfa": sp.mfa}}
    finding["evidences"] = [
        {
            "actor": {"user": {"uid": principal, "name": principal_name(principal)}, **session},
            "src_endpoint": {"ip": ip},
            "data": {
                "view": pair.view,
                "entity": principal,
                "mfa": mfa,
                "outcome": sp.outcome,
            },
        }
    ]
    finding["unmapped"].update(
        {
            "lakewatch.score": "" if pair.score is None else repr(pair.score),
            "lakewatch.view": pair.view,
            "lakewatch.principal": principal,
            "lakewatch.address": ip,
            "lakewatch.mfa": mfa,
            "lakewatch.outcome": sp.outcome,
            "lakewatch.usual_networks": usual_networks(sp),
        }
    )
    return finding


def signin_pairs(
    table: pa.Table,
    threshold: float,
    history: Callable[[list[str], list[str]], list[PrincipalHistory]] | None = None,
) -> list[tuple[str, SignInPair]]:
    """The sign-in pairs of ``table`` (a scored CloudTrail object's pairs: entity, ip, view,
    the counts, ``SIGNIN_COUNTS``, score with nan for none, known_entity) that make a finding,
    with its kind, in the table's order: Python objects for those only. ``history`` tells
    what the detector's history holds of each (None: no detector)."""
    score = np.asarray(table["score"].to_numpy(), np.float64)
    known = np.asarray(pc.fill_null(table["known_entity"], True).to_numpy(), bool)
    view = np.asarray(pc.equal(table["view"], str(View.SIGNIN)).to_numpy(zero_copy_only=False))
    with np.errstate(invalid="ignore"):
        under = ~np.isnan(score) & (score < threshold)
    rows = np.nonzero(view & (~known | under))[0]
    if not len(rows):
        return []
    some = table.take(pa.array(rows)).to_pydict()
    pairs = [
        ScoredPair(e, ip, v, None if s != s else s, k, n, first, last)
        for e, ip, v, s, k, n, first, last in zip(
            some["entity"],
            some["ip"],
            some["view"],
            some["score"],
            some["known_entity"],
            some["event_time_count"],
            some["event_time_min"],
            some["event_time_max"],
            strict=True,
        )
    ]
    known_pairs = [i for i, p in enumerate(pairs) if p.known_entity]
    histories: list[PrincipalHistory | None] = [None] * len(pairs)
    if history is not None and known_pairs:
        found = history([pairs[i].entity for i in known_pairs], [pairs[i].ip for i in known_pairs])
        for i, h in zip(known_pairs, found, strict=True):
            histories[i] = h
    out = []
    for i, p in enumerate(pairs):
        sp = SignInPair(
            p,
            int(some["mfa_used"][i] or 0),
            int(some["mfa_not_used"][i] or 0),
            int(some["succeeded"][i] or 0),
            int(some["failed"][i] or 0),
            histories[i],
        )
        out.append(("anomalous_pair" if p.known_entity else "unknown_entity", sp))
    return out


def signin_findings(
    table: pa.Table,
    *,
    threshold: PublishedThreshold,
    source: LakeKey,
    bucket: str,
    now_ms: int,
    history: Callable[[list[str], list[str]], list[PrincipalHistory]] | None = None,
) -> list[dict[str, Any]]:
    """A scored CloudTrail object's findings (``signin_pairs``)."""
    return [
        signin_finding(sp, kind, threshold=threshold, source=source, bucket=bucket, now_ms=now_ms)
        for kind, sp in signin_pairs(table, threshold.threshold, history)
    ]


def is_unusual_signin(finding: dict[str, Any]) -> bool:
    """An anomalous sign-in's finding (the ones a step-up event is put for)."""
    unmapped = finding.get("unmapped") or {}
    return (
        unmapped.get("lakewatch.view") == View.SIGNIN
        and unmapped.get("lakewatch.kind") == "anomalous_pair"
    )


def _float(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def step_up_entry(finding: dict[str, Any], bus: str) -> dict[str, Any]:
    """The finding as one EventBridge ``PutEvents`` entry on ``bus``: source ``lakewatch``,
    detail-type ``Unusual sign-in``, the detail a rule matches and a step-up function reads."""
    unmapped = finding["unmapped"]
    mfa = {"true": True, "false": False}.get(unmapped.get("lakewatch.mfa", ""))
    detail = {
        "principal": unmapped["lakewatch.principal"],
        "address": unmapped["lakewatch.address"],
        "score": _float(unmapped.get("lakewatch.score", "")),
        "threshold": _float(unmapped.get("lakewatch.threshold", "")),
        "mfa": mfa,
        "outcome": unmapped.get("lakewatch.outcome", "Unknown"),
        "finding_uid": finding["finding_info"]["uid"],
        "severity": finding["severity"],
        "account": finding["cloud"]["account"]["uid"],
        "region": finding["cloud"]["region"],
        "first_seen_time": finding["start_time"],
        "last_seen_time": finding["end_time"],
        "count": finding["count"],
        "model_id": unmapped.get("lakewatch.model_id", ""),
    }
    return {
        "Source": EVENT_SOURCE,
        "DetailType": EVENT_DETAIL_TYPE,
        "Detail": json.dumps(detail, sort_keys=True),
        "EventBusName": bus,
    }
