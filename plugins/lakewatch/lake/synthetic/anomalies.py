"""The anomalies the synthetic lake injects: one function per kind, in a registry.

Each writes its rows into the slice and labels the pairs a detector should flag, as the views
name them (``egress_peer``: instance and destination; ``ingress_peer``: instance and source;
``dns_answer``: instance and the address Route 53 answered).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import numpy as np

from lakewatch.lake import arrow_util as au
from lakewatch.lake.synthetic.options import ANOMALY_KINDS, Event
from lakewatch.lake.synthetic.slices import Slice
from lakewatch.lake.synthetic.world import SERVICE_BY_NAME, SERVICES, Instance, ServiceSpec
from lakewatch.lake.views import View

_SCAN_PORTS = np.array([22, 80, 443, 3306, 5432, 6379, 8080, 8443, 9000, 9100, 27017])
HOUR_MS = 3_600_000

# kind -> writer(slice, event, the account's instances, when it starts)
Injector = Callable[[Slice, Event, list[Instance], int], None]


def inject(sl: Slice, event: Event) -> None:
    """Write ``event`` into the slice, starting at a random time at least an hour before
    the slice ends."""
    instances = [sl.world.instances[i] for i in sl.world.accounts[sl.account].instances]
    start = int(sl.rng.integers(sl.t0, max(sl.t0 + 1, sl.t1 - HOUR_MS)))
    INJECTORS[event.kind](sl, event, instances, start)


def lateral_movement(sl: Slice, event: Event, instances: list[Instance], start: int) -> None:
    """An instance connecting to two hosts of a service its own never talks to."""
    rng = sl.rng
    attacker = instances[int(rng.integers(0, len(instances)))]
    target_svc = _lateral_target(SERVICE_BY_NAME[attacker.service], rng)
    victims = sl.world.service_instances(sl.account, target_svc)
    for v in rng.choice(len(victims), min(2, len(victims)), replace=False):
        victim = victims[int(v)]
        n = int(rng.integers(3, 8))
        times = start + np.sort(rng.integers(0, HOUR_MS, n))
        ports = np.full(n, SERVICE_BY_NAME[target_svc].port)
        eph = rng.integers(32768, 61000, n)
        egress = sl.label(event, sl.uid(attacker), victim.ip, View.EGRESS_PEER)
        ingress = sl.label(event, sl.uid(victim), attacker.ip, View.INGRESS_PEER)
        packets = rng.integers(5, 200, n)
        for times_at, s_eni, d_eni, direction, label in (
            (times, np.full(n, attacker.index), -1, 2, egress),
            (times + 1, -1, np.full(n, victim.index), 1, ingress),
        ):
            sl.flows(
                times_at,
                s_port=eph,
                s_ip=sl.address(np.full(n, attacker.index)),
                s_eni=s_eni,
                d_port=ports,
                d_ip=sl.address(np.full(n, victim.index)),
                d_eni=d_eni,
                direction=direction,
                packets=packets,
                nbytes=packets * 700,
                verdict=0,
                label=label,
            )


def _lateral_target(svc: ServiceSpec, rng: np.random.Generator) -> str:
    """A service the attacker's service never talks to, preferably in a subnet tier it does
    reach: the realistic hard case, invisible to a per-subnet frequency count."""
    unrelated = [
        s for s in SERVICES if s.name not in (*svc.deps, svc.name) and svc.name not in s.deps
    ]
    tiers = {SERVICE_BY_NAME[d].tier for d in svc.deps}
    near = [s for s in unrelated if s.tier in tiers] or unrelated
    return near[int(rng.integers(0, len(near)))].name


def c2_beacon(sl: Slice, event: Event, instances: list[Instance], start: int) -> None:
    """An instance calling a hostile address every five minutes, a few packets each."""

    def beacons(rng: np.random.Generator):
        n = int(rng.integers(6, 13))
        times = start + np.arange(n) * 300_000 + rng.integers(0, 5_000, n)
        packets = rng.integers(3, 8, n)
        return n, times, packets, packets * 120, int(rng.choice([443, 8443, 4444]))

    _hostile_session(sl, event, instances, beacons)


def exfiltration(sl: Slice, event: Event, instances: list[Instance], start: int) -> None:
    """An instance sending hundreds of megabytes to a hostile address in a few flows."""

    def uploads(rng: np.random.Generator):
        n = int(rng.integers(2, 5))
        times = start + np.sort(rng.integers(0, HOUR_MS, n))
        packets = rng.integers(40_000, 600_000, n)
        return n, times, packets, packets * 1400, 443

    _hostile_session(sl, event, instances, uploads)


def _hostile_session(sl: Slice, event: Event, instances: list[Instance], flows) -> None:
    """An instance's outbound flows to a hostile address (shaped by ``flows``) and the
    answers back, both labelled."""
    rng = sl.rng
    attacker = instances[int(rng.integers(0, len(instances)))]
    hostile = au.random_in_ranges(rng, sl.pools.hostile_ranges, 1)[0]
    address = str(ipaddress.IPv4Address(int(hostile)))
    n, times, packets, nbytes, port = flows(rng)
    egress = sl.label(event, sl.uid(attacker), address, View.EGRESS_PEER)
    sl.flows(
        times,
        s_port=rng.integers(32768, 61000, n),
        s_ip=sl.address(np.full(n, attacker.index)),
        s_eni=np.full(n, attacker.index),
        d_port=np.full(n, port),
        d_ip=au.const(address, n),
        d_eni=-1,
        direction=2,
        packets=packets,
        nbytes=nbytes,
        verdict=0,
        label=egress,
    )
    ingress = sl.label(event, sl.uid(attacker), address, View.INGRESS_PEER)
    sl.flows(
        times + 3,
        s_port=np.full(n, port),
        s_ip=au.const(address, n),
        s_eni=-1,
        d_port=rng.integers(32768, 61000, n),
        d_ip=sl.address(np.full(n, attacker.index)),
        d_eni=np.full(n, attacker.index),
        direction=1,
        packets=np.maximum(packets // 10, 1),
        nbytes=packets * 60,
        verdict=0,
        label=ingress,
    )


def scan(sl: Slice, event: Event, instances: list[Instance], start: int) -> None:
    """A host in an unused private range probing half or more of the account's instances
    within ten minutes, mostly rejected."""
    rng = sl.rng
    scanner = f"10.{16 + sl.account}.{int(rng.integers(200, 250))}.{int(rng.integers(2, 250))}"
    k = max(3, int(len(instances) * rng.uniform(0.5, 1.0)))
    for j in rng.choice(len(instances), k, replace=False):
        target = instances[int(j)]
        n = int(rng.integers(1, 4))
        label = sl.label(event, sl.uid(target), scanner, View.INGRESS_PEER)
        verdict = (rng.random(n) < 0.85).astype(np.int64)
        sl.flows(
            start + rng.integers(0, 600_000, n),
            s_port=rng.integers(40000, 65000, n),
            s_ip=au.const(scanner, n),
            s_eni=-1,
            d_port=_SCAN_PORTS[rng.integers(0, _SCAN_PORTS.size, n)],
            d_ip=sl.address(np.full(n, target.index)),
            d_eni=np.full(n, target.index),
            direction=1,
            packets=np.ones(n, np.int64),
            nbytes=np.full(n, 44),
            verdict=verdict,
            flags=2,
            label=label,
        )


def rare_domain(sl: Slice, event: Event, instances: list[Instance], start: int) -> None:
    """An instance resolving a random name under a cheap top-level domain, then calling the
    hostile address it got."""
    rng = sl.rng
    victim = instances[int(rng.integers(0, len(instances)))]
    hostile = au.random_in_ranges(rng, sl.pools.hostile_ranges, 1)[0]
    address = str(ipaddress.IPv4Address(int(hostile)))
    letters = "abcdefghijklmnopqrstuvwxyz0123456789"
    domain = "".join(rng.choice(list(letters), int(rng.integers(8, 14))))
    host = f"{domain}.{rng.choice(['top', 'xyz', 'click', 'info'])}."
    answer = sl.label(event, sl.uid(victim), address, View.DNS_ANSWER, "ROUTE53")
    sl.queries(
        np.array([start]),
        s_vpc=au.take(sl.pools.vpc_uids, np.array([sl.account])),
        s_ip=sl.address(np.array([victim.index])),
        s_inst=au.const(sl.uid(victim), 1),
        hostnames=au.const(host, 1),
        qtype=np.zeros(1, np.int64),
        counts=np.ones(1, np.int64),
        rdata=au.const(address, 1),
        rcode=np.zeros(1, np.int64),
        label=answer,
    )
    n = int(rng.integers(2, 5))
    egress = sl.label(event, sl.uid(victim), address, View.EGRESS_PEER)
    packets = rng.integers(5, 300, n)
    sl.flows(
        start + 500 + np.sort(rng.integers(0, 1_800_000, n)),
        s_port=rng.integers(32768, 61000, n),
        s_ip=sl.address(np.full(n, victim.index)),
        s_eni=np.full(n, victim.index),
        d_port=np.full(n, 443),
        d_ip=au.const(address, n),
        d_eni=-1,
        direction=2,
        packets=packets,
        nbytes=packets * 800,
        verdict=0,
        label=egress,
    )


INJECTORS: dict[str, Injector] = {
    "lateral_movement": lateral_movement,
    "c2_beacon": c2_beacon,
    "exfiltration": exfiltration,
    "scan": scan,
    "rare_domain": rare_domain,
}
assert tuple(INJECTORS) == ANOMALY_KINDS, "every kind has one writer"
