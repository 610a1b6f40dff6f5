"""Incidents: the anomalous pairs an analyst reviews together, as one OCSF Detection Finding.

Three shapes, from the anomalous pairs of one scored object (corroborated: see ``group`` and
``connections``):

- ``scan``: one address paired anomalously with ``SCAN_MIN_INSTANCES`` or more instances
  (a source sweeping the fleet, or one destination every instance suddenly reaches);
- ``connection``: a connection between two of the account's instances unusual at both ends
  (both ENIs' records of the same flows: lateral movement);
- ``entity``: the rest, by instance and hour: an instance's unusual peers within an hour.

A flagged pair's other end (the other instance's record of the same connection) is flagged
with it, whatever it scored (``other_end_findings``).

An incident's ``finding_info.uid`` derives from its shape, subject and hour (the behaviour, not
the model that found it), so the pieces that objects of the same hour write share one id, and
so does the same incident found again by the next night's model: consumers merge them by uid
(the Athena query of docs/operate.md#findings-in-athena groups by it). Severity comes from the most
anomalous pair: how far below the threshold, in spreads of normal scores
(``pair_findings.severity_for``), one step higher for a scan across many instances.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lakewatch.extract.views import View
from lakewatch.lake.layout import LakeKey
from lakewatch.metrics import poisson_sf
from lakewatch.scoring.pair_findings import (
    WINDOW_MS,
    ScoredPair,
    base_finding,
    behaviour_uid,
    finding_uid,
    instance_of,
    make_finding,
    severity_for,
)
from lakewatch.threshold.published import PublishedThreshold

SCAN_MIN_INSTANCES = 3
MAX_EVIDENCES = 50
# How unlikely the normal tail must make an entity's flags before they are an incident.
ALPHA = 0.01


@dataclass
class Incident:
    shape: str  # scan | connection | entity
    subject: str  # the address (scan), "<client> -> <server>" (connection), the instance (entity)
    window: int  # hour index (epoch ms // WINDOW_MS)
    pairs: list[ScoredPair]

    def uid(self) -> str:
        """The incident's behaviour: its shape, subject and hour."""
        return behaviour_uid("incident", self.shape, self.subject, self.window)

    @property
    def instances(self) -> set[str]:
        return {instance_of(p.entity) for p in self.pairs}


def answered(pairs: list[ScoredPair], unless_under: float | None = None) -> list[ScoredPair]:
    """``pairs`` without the inbound flows from addresses the same instance reached in the
    same object: answers to its own connections (VPC Flow Logs record both directions), whose
    evidence is the outbound pair's. Left in, every S3 or API address an instance calls comes
    back as an unusual inbound client (most of the demo's false incidents).

    ``unless_under``: keep the answers to calls scored under it. For pair findings an answer
    takes its call's verdict: S3 answering a usual request is not an anomaly however new its
    address is to the instance's inbound side (most of the demo's false-positive pairs); a C2
    server answering a flagged beacon still is."""
    reached = {
        (instance_of(p.entity), p.ip)
        for p in pairs
        if p.view == View.EGRESS_PEER and not _under(p, unless_under)
    }
    return [
        p
        for p in pairs
        if p.view != View.INGRESS_PEER or (instance_of(p.entity), p.ip) not in reached
    ]


def group(
    pairs: list[ScoredPair],
    threshold: float,
    strict: float | None = None,
    rate: float | None = None,
    entity_rates: Mapping[str, float] | None = None,
    loose: float | None = None,
    tail: Mapping[tuple[str, int], float] | None = None,
) -> list[Incident]:
    """The incidents among ``pairs``: those of known entities scoring under ``threshold``,
    corroborated; answers to an instance's own connections left out (``answered``).

    False alarms are the normal tail, independent pair by pair at the threshold's rate, so
    an instance's hour is an incident when it has two flags, or one beyond the strict
    threshold (when given); and, given ``rate`` (the target false-positive rate; the strict
    threshold's is a tenth of it), when its flags are more than the entity's normal tail
    explains: Poisson, under ``ALPHA``, over that entity's pairs in the hour. ``entity_rates``
    names the entities whose own normal pairs fall under the threshold more often than
    ``rate`` (``threshold.choose.entity_rates``, e.g. a public web server meeting new clients
    all day): their pairs count at their own rate, so they need more flags.

    A scan is one address under ``loose`` (the normal scores' 10 x target quantile) with
    ``SCAN_MIN_INSTANCES`` or more instances, one of them under ``threshold``: a sweep
    touches each instance a few times, so each pair's evidence is weak, but the normal tail
    rarely puts one address under even the loose threshold on three instances at once. An
    inbound scan (a source sweeping instances) then takes every instance the source reached in
    the object, whatever each pair scored: each is a target the analyst must check (a sweep
    from inside the account's own ranges looks familiar to the instances whose clients live
    near it, and half of the lake's sweeps' targets scored above the loose threshold)."""
    known = [p for p in answered(pairs) if p.known_entity and p.score is not None]
    wide = threshold if loose is None else max(loose, threshold)
    scans = _scans(known, threshold, wide)
    taken = {id(p) for incident in scans for p in incident.pairs}
    # ``tail``: the normal tail counted over all the object's pairs, when ``pairs`` are only
    # those an incident can involve (``scoring.process.needed_pairs``)
    expected = _normal_tail(known, rate, entity_rates or {}) if tail is None else tail
    by_instance: dict[tuple[str, int], list[ScoredPair]] = defaultdict(list)
    for p in known:
        if _under(p, threshold) and id(p) not in taken:
            by_instance[(instance_of(p.entity), p.first_ms // WINDOW_MS)].append(p)
    return scans + [
        Incident("entity", inst, window, members)
        for (inst, window), members in sorted(by_instance.items())
        if _corroborated(members, expected, window, strict, rate)
    ]


def _scans(known: list[ScoredPair], threshold: float, wide: float) -> list[Incident]:
    """The scans among ``known``: an address under ``wide`` on ``SCAN_MIN_INSTANCES`` or
    more instances, one of them under ``threshold``; an inbound one takes every instance the
    source reached (``group``)."""
    by_address: dict[str, list[ScoredPair]] = defaultdict(list)
    inbound: dict[str, list[ScoredPair]] = defaultdict(list)
    for p in known:
        if _under(p, wide):
            by_address[p.ip].append(p)
        if p.view == View.INGRESS_PEER:
            inbound[p.ip].append(p)
    out: list[Incident] = []
    for ip, members in sorted(by_address.items()):
        if len({instance_of(p.entity) for p in members}) >= SCAN_MIN_INSTANCES and any(
            _under(p, threshold) for p in members
        ):
            if all(p.view == View.INGRESS_PEER for p in members):
                members = inbound[ip]  # a sweep: every instance it reached is its target
            window = min(p.first_ms for p in members) // WINDOW_MS
            out.append(Incident("scan", ip, window, members))
    return out


def _normal_tail(
    known: list[ScoredPair], rate: float | None, entity_rates: Mapping[str, float]
) -> dict[tuple[str, int], float]:
    """The flags the normal tail explains per entity (view) and hour: its pairs that hour
    at the entity's own rate, or at ``rate`` (none without one)."""
    expected: dict[tuple[str, int], float] = defaultdict(float)
    for p in known:
        expected[(p.entity, p.first_ms // WINDOW_MS)] += entity_rates.get(p.entity, rate or 0.0)
    return expected


def _corroborated(
    members: list[ScoredPair],
    expected: Mapping[tuple[str, int], float],
    window: int,
    strict: float | None,
    rate: float | None,
) -> bool:
    """Two flags, or one beyond the strict threshold; and, given the rates, more than
    the entity's own normal tail explains (tested entity by entity: an instance's own
    destinations are not judged by the tail of the clients it serves)."""
    if not (len(members) >= 2 or strict is None or any(_under(p, strict) for p in members)):
        return False
    if rate is None:
        return True
    for entity in {p.entity for p in members}:
        mine = [p for p in members if p.entity == entity]
        lam = expected[(entity, window)]
        beyond = sum(1 for p in mine if _under(p, strict))
        if poisson_sf(len(mine), lam) < ALPHA or poisson_sf(beyond, lam / 10) < ALPHA:
            return True
    return False


class Ends:
    """Both ENIs' records of a connection between two of the account's instances: A's
    outbound pair to B's address and B's inbound pair from A's address (VPC Flow Logs log the
    same flows at both ends). ``own_addresses``: each instance's own addresses in the object
    (the ends its ENI logged), which name B behind an address and A's address in B's inbound
    pairs."""

    def __init__(self, pairs: list[ScoredPair], own_addresses: Mapping[str, set[str]]):
        self.own = own_addresses
        self.owner = {ip: instance for instance, ips in own_addresses.items() for ip in ips}
        self.scored = {
            (p.view, p.entity, p.ip): p for p in pairs if p.known_entity and p.score is not None
        }

    def other_ends(self, pair: ScoredPair) -> list[ScoredPair]:
        """The other instance's records of ``pair``'s connection (several when an instance
        has several addresses)."""
        if pair.ip not in self.owner:
            return []
        if pair.view == View.EGRESS_PEER:
            view, entity, addresses = View.INGRESS_PEER, f"{self.owner[pair.ip]}/in", pair.entity
        elif pair.view == View.INGRESS_PEER:
            view, entity, addresses = (
                View.EGRESS_PEER,
                self.owner[pair.ip],
                instance_of(pair.entity),
            )
        else:
            return []
        found = (self.scored.get((view, entity, a)) for a in sorted(self.own.get(addresses, ())))
        return [p for p in found if p is not None]


def connections(ends: Ends, threshold: float, loose: float | None) -> list[Incident]:
    """Connections between two instances that neither end usually makes: both records of one
    connection (``Ends``) under ``loose``, and one of them under ``threshold`` or the client's
    other such connection within the hour is.

    Lateral movement is such a connection: one end alone is weak evidence (a service's new
    dependency also looks new to its client), but a normal connection is rarely unusual for
    the server too; and an intruder who reaches one host unusually tends to reach its
    siblings, each a little less unusual (as a scan's targets are taken with it)."""
    if loose is None:
        return []
    unusual = []  # (client, window, outbound, inbound): both ends under loose
    for (view, entity, _ip), outbound in sorted(ends.scored.items()):
        if view != View.EGRESS_PEER or not _under(outbound, loose):
            continue
        for inbound in ends.other_ends(outbound):
            if _under(inbound, loose):
                window = min(outbound.first_ms, inbound.first_ms) // WINDOW_MS
                unusual.append((entity, window, outbound, inbound))
    strong = {
        (client, window)
        for client, window, outbound, inbound in unusual
        if _under(outbound, threshold) or _under(inbound, threshold)
    }
    return [
        Incident(
            "connection",
            f"{client} -> {instance_of(inbound.entity)}",
            window,
            [outbound, inbound],
        )
        for client, window, outbound, inbound in unusual
        if (client, window) in strong
    ]


def other_end_findings(
    ends: Ends,
    flagged: list[ScoredPair],
    *,
    threshold: PublishedThreshold,
    source: LakeKey,
    bucket: str,
    now_ms: int,
) -> list[dict[str, Any]]:
    """Findings for the other end's record of each flagged connection between two instances,
    whatever it scored: one connection, one verdict, as an answer takes its call's
    (``answered``). The server's record often looks usual (the attacker's service is a familiar
    client in the victim's tier), yet it is the same flows, and the analyst who investigates
    the connection needs the victim named. ``flagged``: the pairs that have a finding."""
    done = {(p.view, p.entity, p.ip) for p in flagged}
    out = []
    for pair in flagged:
        for other in ends.other_ends(pair):
            key = (other.view, other.entity, other.ip)
            if key in done or _answer_to_usual_call(ends, other, threshold.threshold):
                continue
            done.add(key)
            client, server = (
                (instance_of(pair.entity), instance_of(other.entity))
                if pair.view == View.EGRESS_PEER
                else (instance_of(other.entity), instance_of(pair.entity))
            )
            uid = finding_uid(pair)
            why = (
                f"it is {instance_of(other.entity)}'s record of the connection {client} -> "
                f"{server}, flagged at the other end (finding {uid[:12]})"
            )
            out.append(
                make_finding(
                    other,
                    "anomalous_pair",
                    threshold=threshold,
                    source=source,
                    bucket=bucket,
                    now_ms=now_ms,
                    corroboration=(uid, why),
                )
            )
    return out


def flagged_pairs(
    reviewed: list[ScoredPair], incidents: list[Incident], threshold: float
) -> list[ScoredPair]:
    """The pairs that get an anomalous-pair finding: the known ones under the threshold
    (``findings_for``) and the members of scans and connections (``member_findings``)."""
    under = [p for p in reviewed if p.known_entity and _under(p, threshold)]
    return under + [p for i in incidents if i.shape != "entity" for p in i.pairs]


def _answer_to_usual_call(ends: Ends, pair: ScoredPair, threshold: float) -> bool:
    """An inbound record that answers its instance's own call (``answered``), a call not
    under the threshold: it takes the call's verdict, not the other end's."""
    if pair.view != View.INGRESS_PEER:
        return False
    call = ends.scored.get((View.EGRESS_PEER, instance_of(pair.entity), pair.ip))
    return call is not None and not _under(call, threshold)


def _under(pair: ScoredPair, threshold: float | None) -> bool:
    return threshold is not None and pair.score is not None and pair.score < threshold


def incident_finding(
    incident: Incident,
    *,
    threshold: PublishedThreshold,
    source: LakeKey,
    bucket: str,
    now_ms: int,
) -> dict[str, Any]:
    """One incident's finding, its severity from its worst pair's score."""
    worst = min(incident.pairs, key=lambda p: p.score if p.score is not None else 0.0)
    severity = severity_for(worst.score, threshold.threshold, threshold.scale)
    severity, title, desc, resources = _incident_text(incident, severity)
    first = min(p.first_ms for p in incident.pairs)
    last = max(p.last_ms for p in incident.pairs)
    finding = base_finding(
        uid=incident.uid(),
        kind="incident",
        title=title,
        desc=desc,
        severity=severity,
        first_ms=first,
        last_ms=last,
        count=sum(p.count for p in incident.pairs),
        threshold=threshold,
        source=source,
        bucket=bucket,
        now_ms=now_ms,
        instances=resources,
    )
    _add_incident_evidence(finding, incident, resources[0], worst)
    return finding


def _incident_text(incident: Incident, severity: int) -> tuple[int, str, str, list[str]]:
    """The incident's severity, title, description and resources by its shape: a connection
    names both instances, a scan every instance it reached (a wide one a level more severe),
    an entity incident the entity."""
    n_inst = len(incident.instances)
    if incident.shape == "connection":
        client, server = incident.subject.split(" -> ")
        title = f"Unusual connection {client} -> {server}"
        desc = (
            f"{client} connected to {server}, and the connection is unusual at both ends: "
            "for the client's destinations and for the server's sources (lateral movement "
            "looks like this)."
        )
        return severity, title, desc, [client, server]
    if incident.shape == "scan":
        severity = min(5, severity + (1 if n_inst >= 2 * SCAN_MIN_INSTANCES else 0))
        title = f"{incident.subject} paired unusually with {n_inst} instances"
        desc = (
            f"One address, {incident.subject}, scored below the threshold with {n_inst} "
            "instances within the hour: a scan or sweep, or one new destination everywhere."
        )
        return severity, title, desc, sorted(incident.instances)
    addresses = sorted({p.ip for p in incident.pairs})
    title = f"{incident.subject} reached {len(addresses)} unusual peer(s)"
    desc = (
        f"{incident.subject} was paired with {', '.join(addresses[:10])}"
        f"{' ...' if len(addresses) > 10 else ''} within the hour, each below the threshold."
    )
    return severity, title, desc, [incident.subject]


def _add_incident_evidence(
    finding: dict[str, Any], incident: Incident, resource: str, worst: ScoredPair
) -> None:
    """Fill in the incident's observables, evidence and lakewatch fields: its lowest-scoring
    pairs, at most ``MAX_EVIDENCES``, so a large incident's finding stays small."""
    finding["observables"] = [
        {"name": "resources[0].uid", "type": "Resource UID", "type_id": 10, "value": resource},
        *[
            {"name": "evidences.ip", "type": "IP Address", "type_id": 2, "value": ip}
            for ip in sorted({p.ip for p in incident.pairs})[:MAX_EVIDENCES]
        ],
    ]
    finding["evidences"] = [
        {
            ("src_endpoint" if p.view == View.INGRESS_PEER else "dst_endpoint"): {"ip": p.ip},
            ("dst_endpoint" if p.view == View.INGRESS_PEER else "src_endpoint"): {
                "instance_uid": instance_of(p.entity)
            },
            "data": {"view": p.view, "entity": p.entity, "score": repr(p.score)},
        }
        for p in sorted(incident.pairs, key=lambda p: p.score or 0.0)[:MAX_EVIDENCES]
    ]
    finding["unmapped"].update(
        {
            "lakewatch.incident_shape": incident.shape,
            "lakewatch.pairs": str(len(incident.pairs)),
            "lakewatch.score": repr(worst.score),
        }
    )


def member_findings(
    incidents: list[Incident],
    *,
    threshold: PublishedThreshold,
    source: LakeKey,
    bucket: str,
    now_ms: int,
) -> list[dict[str, Any]]:
    """Pair findings for the members of scans and connections that scored above the pair
    threshold.

    A scan's members are under the loose threshold on three or more instances, one of them
    under the threshold (an inbound sweep's: every instance it reached); a connection's two
    ends are both under the loose threshold, one of them under the threshold: together they
    are evidence no single pair is, and each member is an address the analyst must see on its
    instance. Members under the threshold have their own finding already and are not
    repeated."""
    seen: set[tuple[str, str, str]] = set()
    out = []
    for incident in incidents:
        if incident.shape == "entity":
            continue
        uid = incident.uid()
        why = (
            f"{incident.subject} reached {len(incident.instances)} instances within the hour, "
            f"{SCAN_MIN_INSTANCES} or more under the loose threshold (scan incident {uid[:12]})"
            if incident.shape == "scan"
            else f"the connection {incident.subject} is unusual at both ends (connection "
            f"incident {uid[:12]})"
        )
        for pair in incident.pairs:
            if (pair.view, pair.entity, pair.ip) in seen or _under(pair, threshold.threshold):
                continue
            seen.add((pair.view, pair.entity, pair.ip))
            out.append(
                make_finding(
                    pair,
                    "anomalous_pair",
                    threshold=threshold,
                    source=source,
                    bucket=bucket,
                    now_ms=now_ms,
                    corroboration=(uid, why),
                )
            )
    return out
