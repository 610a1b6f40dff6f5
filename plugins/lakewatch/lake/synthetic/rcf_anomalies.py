"""The anomalies shaped for Random Cut Forest: an instance's hour that departs from its own
behaviour, one function per kind (``RCF_KINDS``), in a registry.

IP Insights scores pairs (instance, address), so it cannot see an instance doing something new
with a peer it always talks to; these kinds are mostly that: RDP or SMB from a web instance to
its usual peers (``rcf_admin_port``), ten to thirty times its usual bytes out in an hour to a
usual peer (``rcf_volume_spike``), a protocol it never used (``rcf_new_protocol``: GRE or ESP to
one external address, or an ICMP flood on a usual peer), and small regular flows to one
external address on a high port it never used (``rcf_new_port_beacon``, a new pair too).

Each event fills whole UTC hours of its slice (the features' unit, ``extract/rcf_features.py``)
and labels its pairs as ``anomalies.py`` does, the instance that acts as the entity (and, where
a peer instance logs the flows too, that instance with the actor's address), so the truth file
names every instance-hour it changes. Everything is drawn from the generator's RCF stream
(``RCF_KEY``), never the slice's own: the slice's other rows, their order of drawing and the
object's name are the same with or without these events.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import numpy as np

from lakewatch.lake import arrow_util as au
from lakewatch.lake.synthetic.options import RCF_KINDS, Event
from lakewatch.lake.synthetic.slices import Slice
from lakewatch.lake.synthetic.traffic import Usage
from lakewatch.lake.synthetic.world import SERVICE_BY_NAME, Instance
from lakewatch.lake.views import View

HOUR_MS = 3_600_000
MINUTE_MS = 60_000
# The generator's RCF streams: default_rng([seed, day stream, RCF_KEY, ...]).
RCF_KEY = 4_200_017
# IANA protocol numbers
TCP, ICMP, GRE, ESP = 6, 1, 47, 50
ADMIN_PORTS = (3389, 445)  # RDP, SMB

# kind -> writer(slice, event, the account's instances, the day's usage, the RCF stream)
RcfInjector = Callable[[Slice, Event, list[Instance], Usage, np.random.Generator], None]


def inject_rcf(sl: Slice, event: Event, usage: Usage, rng: np.random.Generator) -> None:
    """Write ``event`` (an ``RCF_KINDS`` kind) into the slice, drawing only from ``rng``."""
    instances = [sl.world.instances[i] for i in sl.world.accounts[sl.account].instances]
    RCF_INJECTORS[event.kind](sl, event, instances, usage, rng)


def window(sl: Slice, rng: np.random.Generator, hours: int) -> tuple[int, int]:
    """(start, length in ms) of up to ``hours`` whole UTC hours inside the slice, at a random
    hour; a slice holding no whole hour gives the slice itself."""
    first = -(-sl.t0 // HOUR_MS)
    last = sl.t1 // HOUR_MS  # hours first .. last - 1 are whole
    if last <= first:
        return sl.t0, sl.t1 - sl.t0
    hours = max(1, min(hours, last - first))
    at = int(rng.integers(first, last - hours + 1))
    return at * HOUR_MS, hours * HOUR_MS


def admin_port(sl, event, instances, usage, rng) -> None:
    """A web-tier instance opening RDP or SMB to two to four of the internal peers it uses
    today: a few sessions each, some refused by the peer's security group (the web side logs
    them accepted, the peer rejected, as VPC Flow does)."""
    web = [i for i in instances if SERVICE_BY_NAME[i.service].tier == "public"]
    actor = web[int(rng.integers(0, len(web)))]
    start, span = window(sl, rng, 1)
    port = int(rng.choice(ADMIN_PORTS))
    targets = _internal_peers(sl, actor, usage)
    k = min(targets.size, int(rng.integers(2, 5)))
    for victim in rng.choice(targets, k, replace=False):
        victim = int(victim)
        n = int(rng.integers(4, 16))
        refused = rng.random() < 0.4
        packets = rng.integers(1, 4, n) if refused else rng.integers(20, 2_000, n)
        nbytes = packets * (52 if refused else rng.integers(150, 900, n))
        _pair(
            sl,
            event,
            actor.index,
            victim,
            start + np.sort(rng.integers(0, span, n)),
            port,
            packets,
            nbytes,
            rng,
            refused=refused,
        )


def new_port_beacon(sl, event, instances, usage, rng) -> None:
    """An instance calling one external address every 30 to 120 seconds (jittered) for one
    to three hours, a few packets each way, on a port from 1024 to 32767 none of its peers
    use (nor RDP's)."""
    actor = instances[int(rng.integers(0, len(instances)))]
    used = {*sl.pools.peers[actor.index][1].tolist(), *ADMIN_PORTS}  # RDP has a class of its own
    port = int(rng.integers(1024, 32768))
    while port in used:
        port = int(rng.integers(1024, 32768))
    start, span = window(sl, rng, int(rng.integers(1, 4)))
    every = int(rng.integers(30, 121)) * 1000
    beats = np.arange(start, start + span - every, every)
    times = beats + rng.integers(0, every // 10, beats.size)
    n = times.size
    address = _hostile(sl, rng)
    out = rng.integers(3, 7, n)
    back = rng.integers(2, 6, n)
    _external(
        sl,
        event,
        actor,
        address,
        times,
        port,
        (out, out * rng.integers(60, 140, n)),
        (back, back * rng.integers(60, 200, n)),
        rng,
    )


def volume_spike(sl, event, instances, usage, rng) -> None:
    """An instance sending 10 to 30 times its usual bytes out of an hour (its normal outbound
    bytes in the slice, per hour; 1 MB at least) in three to eight flows to the external peer
    it uses most today, on that peer's port: a pair IP Insights has seen every day."""
    actor = instances[int(rng.integers(0, len(instances)))]
    addr, ports, pinst, *_ = sl.pools.peers[actor.index]
    chosen, weights = usage[actor.index]
    external = [(w, int(c)) for c, w in zip(chosen, weights, strict=True) if pinst[c] < 0]
    if external:
        peer = max(external)[1]
    else:  # none used today: one its service uses
        outside = np.flatnonzero(pinst < 0)
        peer = int(outside[int(rng.integers(0, outside.size))])
    start, span = window(sl, rng, 1)
    total = rng.uniform(10, 30) * max(usual_bytes_out(sl, actor.index), 1e6)
    n = int(rng.integers(3, 9))
    nbytes = np.maximum((rng.dirichlet(np.ones(n)) * total).astype(np.int64), 1400)
    packets = np.maximum(nbytes // 1_350, 1)
    acks = np.maximum(packets // 2, 1)
    address = str(sl.pools.addresses[int(addr[peer])])
    _external(
        sl,
        event,
        actor,
        address,
        start + np.sort(rng.integers(0, span, n)),
        int(ports[peer]),
        (packets, nbytes),
        (acks, acks * 52),
        rng,
    )


def new_protocol(sl, event, instances, usage, rng) -> None:
    """An instance using a protocol it never used (normal traffic is all TCP): a GRE or ESP
    tunnel to one external address, or an ICMP echo flood on an internal peer it uses today,
    each one flow record a minute (one 5-tuple, VPC Flow's one-minute aggregation) for 15 to
    60 minutes, ports 0 as VPC Flow writes them for these protocols."""
    actor = instances[int(rng.integers(0, len(instances)))]
    start, span = window(sl, rng, 1)
    minutes = min(int(rng.integers(15, 61)), max(1, span // MINUTE_MS))
    first = int(rng.integers(0, span // MINUTE_MS - minutes + 1)) if span >= MINUTE_MS else 0
    times = start + (first + np.arange(minutes)) * MINUTE_MS + rng.integers(0, 1_000, minutes)
    variant = int(rng.integers(0, 3))
    if variant == 2:
        targets = _internal_peers(sl, actor, usage)
        if targets.size:
            victim = int(targets[int(rng.integers(0, targets.size))])
            packets = rng.integers(5_000, 60_000, minutes)
            _pair(sl, event, actor.index, victim, times, 0, packets, packets * 84, rng, ICMP)
            return
        variant = 0
    proto = (GRE, ESP)[variant]
    out = rng.integers(200, 6_000, minutes)
    back = rng.integers(100, 3_000, minutes)
    _external(
        sl,
        event,
        actor,
        _hostile(sl, rng),
        times,
        0,
        (out, out * rng.integers(300, 1_300, minutes)),
        (back, back * rng.integers(100, 1_000, minutes)),
        rng,
        proto,
    )


def usual_bytes_out(sl: Slice, instance: int) -> float:
    """The instance's normal outbound bytes per hour in the slice so far (its unlabelled
    outbound rows)."""
    total = 0
    for block in sl.vpc:
        m = (
            (block["s_eni"].to_numpy() == instance)
            & (block["direction"].to_numpy() == 2)
            & (block["label"].to_numpy() < 0)
        )
        if m.any():
            total += int(block["bytes"].to_numpy(zero_copy_only=False)[m].sum())
    return total / max((sl.t1 - sl.t0) / HOUR_MS, 1.0)


def _internal_peers(sl: Slice, actor: Instance, usage: Usage) -> np.ndarray:
    """The instances the actor calls today (all its service calls if today's draw has fewer
    than two)."""
    pinst = sl.pools.peers[actor.index][2]
    chosen, _ = usage[actor.index]
    today = np.unique(pinst[chosen][pinst[chosen] >= 0])
    return today if today.size >= 2 else np.unique(pinst[pinst >= 0])


def _hostile(sl: Slice, rng: np.random.Generator) -> str:
    hostile = au.random_in_ranges(rng, sl.pools.hostile_ranges, 1)[0]
    return str(ipaddress.IPv4Address(int(hostile)))


def _pair(
    sl, event, actor, victim, times, port, packets, nbytes, rng, proto=TCP, refused=False
) -> None:
    """Flows from one instance to another, logged by both interfaces: outbound at the actor
    (accepted: its security group lets it out), inbound at the victim (rejected where
    ``refused``); each side labelled with the other's address."""
    n = len(times)
    tcp = proto == TCP
    eph = rng.integers(32768, 61000, n) if tcp else 0
    a_uid, v_uid = sl.uid(sl.world.instances[actor]), sl.uid(sl.world.instances[victim])
    egress = sl.label(event, a_uid, sl.world.instances[victim].ip, View.EGRESS_PEER)
    ingress = sl.label(event, v_uid, sl.world.instances[actor].ip, View.INGRESS_PEER)
    for at, s_eni, d_eni, direction, verdict, label in (
        (times, np.full(n, actor), -1, 2, 0, egress),
        (times + 1, -1, np.full(n, victim), 1, int(refused), ingress),
    ):
        sl.flows(
            at,
            s_port=eph,
            s_ip=sl.address(np.full(n, actor)),
            s_eni=s_eni,
            d_port=np.full(n, port),
            d_ip=sl.address(np.full(n, victim)),
            d_eni=d_eni,
            direction=direction,
            packets=packets,
            nbytes=nbytes,
            verdict=verdict,
            flags=(2 if refused else 19) if tcp else 0,
            proto=proto,
            label=label,
        )


def _external(sl, event, actor, address, times, port, out, back, rng, proto=TCP) -> None:
    """Flows between an instance and an external address, both logged at the instance's
    interface: ``out`` (packets, bytes) outbound to ``port``, ``back`` inbound answers."""
    n = len(times)
    tcp = proto == TCP
    eph = rng.integers(32768, 61000, n) if tcp else 0
    uid = sl.uid(actor)
    for at, (packets, nbytes), outbound, view in (
        (times, out, True, View.EGRESS_PEER),
        (times + 2, back, False, View.INGRESS_PEER),
    ):
        mine, theirs = sl.address(np.full(n, actor.index)), au.const(address, n)
        sl.flows(
            at,
            s_port=eph if outbound else port,
            s_ip=mine if outbound else theirs,
            s_eni=np.full(n, actor.index) if outbound else -1,
            d_port=port if outbound else eph,
            d_ip=theirs if outbound else mine,
            d_eni=-1 if outbound else np.full(n, actor.index),
            direction=2 if outbound else 1,
            packets=packets,
            nbytes=nbytes,
            verdict=0,
            flags=19 if tcp else 0,
            proto=proto,
            label=sl.label(event, uid, address, view),
        )


RCF_INJECTORS: dict[str, RcfInjector] = {
    "rcf_admin_port": admin_port,
    "rcf_new_port_beacon": new_port_beacon,
    "rcf_volume_spike": volume_spike,
    "rcf_new_protocol": new_protocol,
}
assert tuple(RCF_INJECTORS) == RCF_KINDS, "every RCF kind has one writer"
