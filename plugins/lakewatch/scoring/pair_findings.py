"""OCSF Detection Findings (class 2004) for anomalous pairs.

One finding per distinct (entity, address, view) of a source object, with a ``count`` of its
events: a pair repeated a thousand times is one finding, not an alert storm. Its
``finding_info.uid`` names the behaviour, (entity, address, view) in an hour window, and
nothing else: it is the same for every object of the window and for every model that finds it
(a nightly retraining finds yesterday's behaviour under the same id), so consumers, the SNS
alerts and Security Hub (``aws.securityhub``) deduplicate and update by it. The model is an
attribute of the finding (``finding_info.analytic.uid`` and ``unmapped['lakewatch.model_id']``),
and is in ``metadata.uid``, which names one piece as one model wrote it. ``storage.py`` writes
them. The OCSF base every finding shares (``base_finding``, severity, uids) lives here too:
``incidents.py`` builds its incidents on it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from lakewatch import __version__
from lakewatch.extract.views import View
from lakewatch.lake.layout import LakeKey
from lakewatch.threshold.published import PublishedThreshold

OCSF_VERSION = "1.1.0"
WINDOW_MS = 3_600_000
SEVERITY = {1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical"}
KINDS = ("anomalous_pair", "unknown_entity", "incident")


@dataclass
class ScoredPair:
    entity: str
    ip: str
    view: str
    score: float | None
    known_entity: bool
    count: int
    first_ms: int
    last_ms: int


def severity_for(score: float | None, threshold: float, scale: float) -> int:
    """Low just under the threshold, Critical far below it (in spreads of normal scores);
    Low for a pair without a score."""
    if score is None:
        return 2
    margin = (threshold - score) / max(scale, 1e-6)
    if margin < 0.5:
        return 2
    if margin < 1.5:
        return 3
    if margin < 3.0:
        return 4
    return 5


def instance_of(entity: str) -> str:
    """The instance behind a view's entity (``ingress_peer`` marks its entities ``/in``)."""
    return entity.removesuffix("/in")


def behaviour_uid(*parts: object) -> str:
    """The uid of a behaviour named by ``parts`` (what was seen, where, in which hour): the
    model that found it is no part of it."""
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:32]


def finding_uid(pair: ScoredPair) -> str:
    """A pair finding's uid: its (entity, address, view) and hour window."""
    return behaviour_uid(pair.entity, pair.ip, pair.view, pair.first_ms // WINDOW_MS)


def base_finding(
    *,
    uid: str,
    kind: str,
    title: str,
    desc: str,
    severity: int,
    first_ms: int,
    last_ms: int,
    count: int,
    threshold: PublishedThreshold,
    source: LakeKey,
    bucket: str,
    now_ms: int,
    instances: list[str],
) -> dict[str, Any]:
    """The parts every lakewatch Detection Finding shares (callers add observables and
    evidences, and their own ``unmapped`` keys)."""
    return {
        "activity_id": 1,
        "activity_name": "Create",
        "category_uid": 2,
        "category_name": "Findings",
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "type_uid": 200401,
        "type_name": "Detection Finding: Create",
        "severity_id": severity,
        "severity": SEVERITY[severity],
        "status_id": 1,
        "status": "New",
        "time": now_ms,
        "start_time": first_ms,
        "end_time": last_ms,
        "count": count,
        "message": title,
        "metadata": {
            "product": {
                "name": "lakewatch",
                "vendor_name": "lakewatch",
                "version": __version__,
                "feature": {"name": "IP Insights scorer"},
            },
            "version": OCSF_VERSION,
            "profiles": ["cloud"],
            # one piece of the finding: this object's, as this model found it
            "uid": f"{uid}-{source.name}-{threshold.model_id}",
        },
        "finding_info": {
            "uid": uid,
            "title": title,
            "desc": desc,
            "types": ["lakewatch:" + kind],
            "created_time": now_ms,
            "first_seen_time": first_ms,
            "last_seen_time": last_ms,
            "analytic": {
                "name": "IP Insights",
                "type_id": 3,
                "type": "Learning (ML/DL)",
                "uid": threshold.model_id,
            },
            "data_sources": [f"s3://{bucket}/{source.key}"],
        },
        "cloud": {
            "provider": "AWS",
            "region": source.region,
            "account": {"uid": source.account_id},
        },
        "resources": [
            {
                "uid": instance,
                "type": "AWS::EC2::Instance",
                "cloud_partition": "aws",
                "region": source.region,
            }
            for instance in instances
        ],
        "observables": [],
        "evidences": [],
        "unmapped": {
            "lakewatch.kind": kind,
            "lakewatch.threshold": repr(threshold.threshold),
            "lakewatch.threshold_day": threshold.day,
            "lakewatch.model_id": threshold.model_id,
            "lakewatch.source_object": f"s3://{bucket}/{source.key}",
        },
    }


def make_finding(
    pair: ScoredPair,
    kind: str,
    *,
    threshold: PublishedThreshold,
    source: LakeKey,
    bucket: str,
    now_ms: int,
    corroboration: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """One pair's finding. ``corroboration``: (uid, why) for a pair flagged by what it is part
    of (an incident, or the other end's record of its connection), not by its own score."""
    severity, title, desc = _pair_text(
        pair, kind, threshold=threshold, source=source, corroboration=corroboration
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
        instances=[instance_of(pair.entity)],
    )
    _add_pair_evidence(finding, pair, corroboration)
    return finding


def _pair_text(
    pair: ScoredPair,
    kind: str,
    *,
    threshold: PublishedThreshold,
    source: LakeKey,
    corroboration: tuple[str, str] | None,
) -> tuple[int, str, str]:
    """The finding's severity, title and description: an unknown entity's score says nothing,
    so it gets the lowest severity and a prompt to retrain instead of the score's reading."""
    instance = instance_of(pair.entity)
    if kind == "unknown_entity":
        desc = (
            f"{instance} was not in the model's training data, and its pairs here resemble "
            "no known entity's networks (a new instance of a known service is scored as the "
            f"sibling whose /24s it uses), so its score for {pair.ip} ({pair.view}) says "
            "nothing; review it or retrain."
        )
        return 1, f"Entity {pair.entity} unknown to the model", desc
    direction = "from" if pair.view == View.INGRESS_PEER else "to"
    severity = severity_for(pair.score, threshold.threshold, threshold.scale)
    title = f"Unusual network peer {direction} {instance}: {pair.ip}"
    scorer = (
        "lakewatch's detector (IP Insights plus history)"
        if threshold.of_detector
        else "IP Insights"
    )
    under = pair.score is not None and pair.score < threshold.threshold
    where = f"{'below' if under else 'above'} the threshold {threshold.threshold:.4f}"
    if corroboration is not None:
        where += f"{'; and' if under else ' but'} {corroboration[1]}"
    desc = (
        f"{scorer} scored ({pair.entity}, {pair.ip}) at {pair.score:.4f}, {where} "
        f"(target false-positive rate {threshold.target_fpr or 0:.3%}); seen "
        f"{pair.count} time(s) in {source.key}."
    )
    return severity, title, desc


def _add_pair_evidence(
    finding: dict[str, Any], pair: ScoredPair, corroboration: tuple[str, str] | None
) -> None:
    """Fill in the pair's observables, evidence and lakewatch fields: the peer's address goes
    on the endpoint its direction names, so a search by src or dst endpoint finds it."""
    instance = instance_of(pair.entity)
    direction = "from" if pair.view == View.INGRESS_PEER else "to"
    finding["observables"] = [
        {"name": "resources[0].uid", "type": "Resource UID", "type_id": 10, "value": instance},
        {
            "name": "evidences[0].dst_endpoint.ip"
            if direction == "to"
            else "evidences[0].src_endpoint.ip",
            "type": "IP Address",
            "type_id": 2,
            "value": pair.ip,
        },
    ]
    finding["evidences"] = [
        {
            ("dst_endpoint" if direction == "to" else "src_endpoint"): {"ip": pair.ip},
            ("src_endpoint" if direction == "to" else "dst_endpoint"): {"instance_uid": instance},
            "data": {"view": pair.view, "entity": pair.entity},
        }
    ]
    finding["unmapped"].update(
        {
            "lakewatch.score": "" if pair.score is None else repr(pair.score),
            "lakewatch.view": pair.view,
        }
    )
    if corroboration is not None:
        finding["unmapped"]["lakewatch.corroborated_by"] = corroboration[0]


def findings_for(
    pairs: list[ScoredPair],
    *,
    threshold: PublishedThreshold,
    source: LakeKey,
    bucket: str,
    now_ms: int,
) -> list[dict[str, Any]]:
    out = []
    for pair in pairs:
        if not pair.known_entity:
            out.append(
                make_finding(
                    pair,
                    "unknown_entity",
                    threshold=threshold,
                    source=source,
                    bucket=bucket,
                    now_ms=now_ms,
                )
            )
        elif pair.score is not None and pair.score < threshold.threshold:
            out.append(
                make_finding(
                    pair,
                    "anomalous_pair",
                    threshold=threshold,
                    source=source,
                    bucket=bucket,
                    now_ms=now_ms,
                )
            )
    return out


def alert_message(finding: dict[str, Any]) -> str:
    return json.dumps(
        {
            "uid": finding["finding_info"]["uid"],
            "title": finding["finding_info"]["title"],
            "severity": finding["severity"],
            "count": finding["count"],
            "source": finding["unmapped"]["lakewatch.source_object"],
        }
    )
