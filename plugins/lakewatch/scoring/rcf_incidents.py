"""Random Cut Forest findings in incidents: an unusual instance-hour is what an analyst reviews.

An RCF finding names an instance and an hour, the same two things an ``entity`` incident
(``scoring.incidents``) is made of, so the two meet on the incident's uid, which is the
behaviour's (shape, instance, hour), never the model's:

- when the object's pairs already made the instance-hour's incident, the RCF finding joins it
  as evidence (its score and explanation), and the incident's severity is the higher of the
  two;
- else the RCF finding opens that incident, with the instance-hour's flagged pairs as its
  other evidence, when it is corroborated as the pairs' incidents are: by a flagged pair of
  the same instance in the hour, or by a score beyond the strict threshold (the normal hours'
  ``1 - target/10`` quantile, ``PublishedThreshold.strict_threshold``). At the nightly
  target about one normal instance-hour in a thousand is flagged, so over a fleet's day a
  lone finding above the threshold alone is often the tail (measured on the demo: docs/rcf.md);
  it stays a finding, reviewed as one.

A later object of the same hour or the next night's model writes the same uid, and consumers
merge the pieces by it, as they do the pairs' incidents.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from typing import Any

from lakewatch.scoring.pair_findings import SEVERITY, WINDOW_MS, behaviour_uid, instance_of
from lakewatch.scoring.rcf_findings import MODEL, VIEW

SHAPE = "entity"


def _kind(finding: dict[str, Any]) -> str:
    return str(finding["unmapped"]["lakewatch.kind"])


def instance_hour(finding: dict[str, Any]) -> tuple[str, int]:
    """(instance, hour index) of a pair or RCF finding."""
    entity = str(finding["evidences"][0]["data"]["entity"])
    return instance_of(entity), int(finding["start_time"]) // WINDOW_MS


def incident_uid(instance: str, window: int) -> str:
    """The uid ``incidents.Incident.uid`` gives an ``entity`` incident of that hour."""
    return behaviour_uid("incident", SHAPE, instance, window)


def rcf_evidence(finding: dict[str, Any]) -> dict[str, Any]:
    """An RCF finding as an incident's evidence (its data is a string map, as stored)."""
    evidence = copy.deepcopy(finding["evidences"][0])
    evidence["data"]["score"] = finding["unmapped"]["lakewatch.score"]
    return evidence


def join_rcf(
    findings: list[dict[str, Any]], rcf_found: list[dict[str, Any]], strict: float | None = None
) -> list[dict[str, Any]]:
    """An object's findings with its RCF findings, each joined into (or, corroborated,
    opening) the incident of its instance-hour (see the module's docstring); without
    ``strict`` every RCF finding is corroborated."""
    incidents = {f["finding_info"]["uid"]: f for f in findings if _kind(f) == "incident"}
    flagged: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for f in findings:
        if _kind(f) == "anomalous_pair":
            flagged[instance_hour(f)].append(f)
    opened = []
    for found in rcf_found:
        instance, window = instance_hour(found)
        uid = incident_uid(instance, window)
        if uid in incidents:
            add_to_incident(incidents[uid], found)
        elif flagged[(instance, window)] or _beyond(found, strict):
            incidents[uid] = opened_incident(found, uid, flagged[(instance, window)])
            opened.append(incidents[uid])
    return [*findings, *rcf_found, *opened]


def _beyond(found: dict[str, Any], strict: float | None) -> bool:
    return strict is None or float(found["unmapped"]["lakewatch.score"]) > strict


def add_to_incident(incident: dict[str, Any], found: dict[str, Any]) -> None:
    """The pairs' incident of the hour, with the RCF finding as evidence."""
    incident["evidences"].append(rcf_evidence(found))
    if found["severity_id"] > incident["severity_id"]:
        incident["severity_id"] = found["severity_id"]
        incident["severity"] = SEVERITY[found["severity_id"]]
    incident["finding_info"]["desc"] += " " + found["unmapped"]["lakewatch.explanation"] + "."
    incident["unmapped"]["lakewatch.rcf_score"] = found["unmapped"]["lakewatch.score"]
    incident["unmapped"]["lakewatch.models"] = "ipinsights," + MODEL


def opened_incident(found: dict[str, Any], uid: str, pairs: list[dict[str, Any]]) -> dict[str, Any]:
    """The incident an RCF finding opens: its own fields, the incident's uid and kind, and the
    hour's flagged pairs of the same instance beside it."""
    incident = copy.deepcopy(found)
    instance, _ = instance_hour(found)
    piece = incident["metadata"]["uid"].split("-", 1)[1]  # <object>-<model>
    incident["metadata"]["uid"] = f"{uid}-{piece}"
    info = incident["finding_info"]
    info["uid"] = uid
    info["types"] = ["lakewatch:incident"]
    info["title"] = incident["message"] = (
        f"{instance}: unusual ports, protocols or volumes within the hour"
    )
    peers = sorted({p["observables"][1]["value"] for p in pairs})
    if peers:
        info["desc"] += f" Its unusual peers in the hour: {', '.join(peers[:10])}."
    incident["evidences"] = [rcf_evidence(found), *(p["evidences"][0] for p in pairs)]
    incident["observables"] = [
        *found["observables"],
        *(
            {"name": "evidences.ip", "type": "IP Address", "type_id": 2, "value": ip}
            for ip in peers
        ),
    ]
    incident["unmapped"].update(
        {
            "lakewatch.kind": "incident",
            "lakewatch.incident_shape": SHAPE,
            "lakewatch.pairs": str(len(pairs)),
            "lakewatch.view": VIEW,
            "lakewatch.models": MODEL,
        }
    )
    return incident
