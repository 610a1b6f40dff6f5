"""Normal traffic: what an account's instances, its NAT gateways and the internet do in a
slice, in VPC Flow and Route 53 rows.

Every function draws from the slice's one random stream, in the order ``normal_traffic``
calls them: the same seed writes the same bytes.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakewatch.lake import arrow_util as au
from lakewatch.lake.synthetic.pools import Pools
from lakewatch.lake.synthetic.slices import Slice
from lakewatch.lake.synthetic.world import SERVICE_BY_NAME, SERVICES

# How much each service calls out, relative to the others.
CLIENT_ACTIVITY = {
    "web": 3.0,
    "api": 4.0,
    "auth": 1.0,
    "worker": 3.0,
    "batch": 2.0,
    "db": 0.3,
    "authdb": 0.2,
    "cache": 0.2,
}
_NOISE_PORTS = np.array([22, 23, 445, 3389, 1433, 5900, 8080, 2375, 6379, 9200])
# Today's use of its peers, per instance: which peers, and their weights.
Usage = dict[int, tuple[np.ndarray, np.ndarray]]


def daily_usage(pools: Pools, rng: np.random.Generator) -> Usage:
    """For each instance: which of its peers it uses today and how heavily."""
    usage = {}
    for idx, (addr, *_) in pools.peers.items():
        n = len(addr)
        chosen = np.flatnonzero(rng.random(n) < 0.5)
        if chosen.size == 0:
            chosen = rng.integers(0, n, 1)
        weights = 1.0 / (1.0 + rng.permutation(chosen.size)) ** 0.8
        usage[idx] = (chosen, weights / weights.sum())
    return usage


def normal_traffic(sl: Slice, n_vpc: int, n_dns: int, usage: Usage) -> None:
    """About ``n_vpc`` flow rows and ``n_dns`` resolver rows of the slice's normal traffic."""
    activity = np.array([CLIENT_ACTIVITY[sl.world.instances[i].service] for i in sl.instances])
    activity /= activity.sum()
    service_calls(sl, n_vpc, usage, activity)
    internet_clients(sl, n_vpc)
    internet_noise(sl, n_vpc)
    gateways(sl, n_vpc)
    ipv6(sl, n_vpc)
    no_data(sl, n_vpc)
    if n_dns:
        n_onprem = max(1, n_dns // 10)
        instance_queries(sl, n_dns - n_onprem, usage, activity)
        onprem_queries(sl, n_onprem)


def service_calls(sl: Slice, n_vpc: int, usage: Usage, activity: np.ndarray) -> None:
    """Service-to-peer connections: egress at the client, ingress at internal servers, and
    some response flows back into the client's ENI."""
    rng = sl.rng
    n_conn = max(1, int(n_vpc * 0.71 / 1.285))  # ~1.285 rows per connection
    per_client = rng.multinomial(n_conn, activity)
    parts: list[list[np.ndarray]] = [[], [], [], []]
    for client, k in zip(sl.instances, per_client, strict=True):
        if k == 0:
            continue
        chosen, weights = usage[client]
        pick = chosen[rng.choice(chosen.size, size=k, p=weights)]
        addr, port, pinst, *_ = sl.pools.peers[client]
        picked = (np.full(k, client), addr[pick], port[pick], pinst[pick])
        for part, values in zip(parts, picked, strict=True):
            part.append(values)
    clients, peer_addr, peer_port, peer_inst = (np.concatenate(p) for p in parts)
    times = rng.integers(sl.t0, sl.t1, clients.size)
    eph = rng.integers(32768, 61000, clients.size)
    packets = rng.integers(2, 400, clients.size)
    nbytes = packets * rng.integers(60, 1400, clients.size)
    # A few service-to-service calls are refused by security groups.
    verdict = (rng.random(clients.size) < 0.01).astype(np.int64)
    sl.flows(
        times,
        s_port=eph,
        s_ip=sl.address(clients),
        s_eni=clients,
        d_port=peer_port,
        d_ip=sl.address(peer_addr),
        d_eni=-1,
        direction=2,
        packets=packets,
        nbytes=nbytes,
        verdict=verdict,
    )
    m = peer_inst >= 0
    if m.any():
        sl.flows(
            times[m] + 1,
            s_port=eph[m],
            s_ip=sl.address(clients[m]),
            s_eni=-1,
            d_port=peer_port[m],
            d_ip=sl.address(peer_addr[m]),
            d_eni=peer_inst[m],
            direction=1,
            packets=packets[m],
            nbytes=nbytes[m],
            verdict=verdict[m],
        )
    back = rng.random(clients.size) < 0.25
    if back.any():
        m = back & (verdict == 0)
        sl.flows(
            times[m] + 2,
            s_port=peer_port[m],
            s_ip=sl.address(peer_addr[m]),
            s_eni=-1,
            d_port=eph[m],
            d_ip=sl.address(clients[m]),
            d_eni=clients[m],
            direction=1,
            packets=packets[m],
            nbytes=packets[m] * 900,
            verdict=verdict[m],
        )


def _public_tier(sl: Slice) -> np.ndarray:
    return np.array(
        [i for i in sl.instances if SERVICE_BY_NAME[sl.world.instances[i].service].tier == "public"]
    )


def internet_clients(sl: Slice, n_vpc: int) -> None:
    """Internet clients of the public tier, accepted on 443."""
    rng, web, n = sl.rng, _public_tier(sl), int(n_vpc * 0.12)
    if not (n and web.size):
        return
    dst = web[rng.integers(0, web.size, n)]
    src = au.ipv4_strings(au.random_in_ranges(rng, sl.pools.client_ranges, n))
    sl.flows(
        rng.integers(sl.t0, sl.t1, n),
        s_port=rng.integers(1024, 65535, n),
        s_ip=src,
        s_eni=-1,
        d_port=np.full(n, 443),
        d_ip=sl.address(dst),
        d_eni=dst,
        direction=1,
        packets=rng.integers(4, 60, n),
        nbytes=rng.integers(400, 90_000, n),
        verdict=0,
    )


def internet_noise(sl: Slice, n_vpc: int) -> None:
    """Internet background noise against the public tier, rejected."""
    rng, web, n = sl.rng, _public_tier(sl), int(n_vpc * 0.06)
    if not (n and web.size):
        return
    dst = web[rng.integers(0, web.size, n)]
    src = au.ipv4_strings(au.random_in_ranges(rng, sl.pools.noise_ranges, n))
    sl.flows(
        rng.integers(sl.t0, sl.t1, n),
        s_port=rng.integers(1024, 65535, n),
        s_ip=src,
        s_eni=-1,
        d_port=_NOISE_PORTS[rng.integers(0, 10, n)],
        d_ip=sl.address(dst),
        d_eni=dst,
        direction=1,
        packets=np.ones(n, np.int64),
        nbytes=np.full(n, 40),
        verdict=1,
        flags=2,
    )


def gateways(sl: Slice, n_vpc: int) -> None:
    """NAT gateway, Lambda and Fargate ENIs calling vendors: instance_uid '-'."""
    rng, pools, n = sl.rng, sl.pools, int(n_vpc * 0.06)
    if not n:
        return
    which = rng.integers(0, len(pools.nat_eni[sl.account]), n)
    eni = np.array(pools.nat_eni[sl.account])[which]
    src_addr = np.array(pools.nat_addr[sl.account])[which]
    vendor_addr = np.concatenate(
        [[pools.addr_index[x] for x in v.ipv4] for v in sl.world.vendors.values()]
    )
    dst = vendor_addr[rng.integers(0, vendor_addr.size, n)]
    sl.flows(
        rng.integers(sl.t0, sl.t1, n),
        s_port=rng.integers(1024, 65535, n),
        s_ip=sl.address(src_addr),
        s_eni=eni,
        d_port=np.full(n, 443),
        d_ip=sl.address(dst),
        d_eni=-1,
        direction=2,
        packets=rng.integers(2, 100, n),
        nbytes=rng.integers(200, 50_000, n),
        verdict=0,
    )


def ipv6(sl: Slice, n_vpc: int) -> None:
    """IPv6 from dual-stack instances to vendors' IPv6 ranges."""
    rng, pools, n = sl.rng, sl.pools, int(n_vpc * 0.04)
    dual = np.array([i for i in sl.instances if i in pools.v6_index])
    targets = np.array([pools.addr_index[x] for v in sl.world.vendors.values() for x in v.ipv6])
    if not (n and dual.size and targets.size):
        return
    src = dual[rng.integers(0, dual.size, n)]
    sl.flows(
        rng.integers(sl.t0, sl.t1, n),
        s_port=rng.integers(32768, 61000, n),
        s_ip=sl.address(np.array([pools.v6_index[i] for i in src])),
        s_eni=src,
        d_port=np.full(n, 443),
        d_ip=sl.address(targets[rng.integers(0, targets.size, n)]),
        d_eni=-1,
        direction=2,
        packets=rng.integers(2, 100, n),
        nbytes=rng.integers(200, 50_000, n),
        verdict=0,
        v6=True,
    )


def no_data(sl: Slice, n_vpc: int) -> None:
    """NODATA / SKIPDATA records: an interface with nothing (or too much) to log."""
    rng, n = sl.rng, max(1, int(n_vpc * 0.01))
    enis = sl.pools.nat_eni[sl.account]
    eni = np.array(enis)[rng.integers(0, len(enis), n)]
    dash = au.const("-", n)
    sl.flows(
        rng.integers(sl.t0, sl.t1, n),
        s_port=-1,
        s_ip=dash,
        s_eni=eni,
        d_port=-1,
        d_ip=dash,
        d_eni=-1,
        direction=99,
        packets=-1,
        nbytes=-1,
        verdict=2 + (rng.random(n) < 0.3).astype(np.int64),
    )


def instance_queries(sl: Slice, n: int, usage: Usage, activity: np.ndarray) -> None:
    """Instances resolving the peers they use; answers from the peer's pool."""
    rng, pools, inst = sl.rng, sl.pools, sl.instances
    per_client = rng.multinomial(n, activity)
    clients = np.repeat(inst, per_client)
    host_idx = np.empty(n, dtype=np.int64)
    primary = np.empty(n, dtype=np.int64)
    pool = np.empty(n, dtype=np.int64)
    at = 0
    for client, k in zip(inst, per_client, strict=True):
        if not k:
            continue
        chosen, weights = usage[int(client)]
        pick = chosen[rng.choice(chosen.size, size=k, p=weights)]
        addr, _, _, _, hosts, groups = pools.peers[int(client)]
        part = slice(at, at + k)
        host_idx[part], primary[part], pool[part] = hosts[pick], addr[pick], groups[pick]
        at += k
    # AAAA for dual-stack clients asking vendors that have IPv6
    dual = np.isin(clients, list(pools.v6_index))
    qtype = (dual & (pools.pool6_size[pool] > 0) & (rng.random(n) < 0.3)).astype(np.int64)
    # answers: the address the client uses plus up to two more from the same pool
    extra = rng.integers(0, 3, n)
    size = np.where(qtype == 1, pools.pool6_size[pool], pools.pool_size[pool])
    start = np.where(qtype == 1, pools.pool6_start[pool], pools.pool_start[pool])
    cand = start[:, None] + (rng.random((n, 3)) * np.maximum(size, 1)[:, None]).astype(np.int64)
    cand_v4 = pools.pool_flat[np.minimum(cand, pools.pool_flat.size - 1)]
    cand_v6 = (
        pools.pool6_flat[np.minimum(cand, max(pools.pool6_flat.size - 1, 0))]
        if pools.pool6_flat.size
        else cand_v4
    )
    answers = np.where(qtype[:, None] == 1, cand_v6, cand_v4)
    answers[:, 0] = np.where(qtype == 1, answers[:, 0], primary)
    keep = np.arange(3)[None, :] <= extra[:, None]
    keep[:, 1] &= answers[:, 1] != answers[:, 0]
    keep[:, 2] &= (answers[:, 2] != answers[:, 0]) & (answers[:, 2] != answers[:, 1])
    rcode = np.where(rng.random(n) < 0.03, 3, 0)
    keep &= (rcode == 0)[:, None]
    hosts = au.take(pools.hostnames, host_idx)
    nx = rcode == 3
    if nx.any():  # a typo of the real name: resolves to nothing
        hosts = pc.if_else(
            pa.array(nx), pc.binary_join_element_wise(au.const("nx-", n), hosts, ""), hosts
        )
    sl.queries(
        rng.integers(sl.t0, sl.t1, n),
        s_vpc=au.take(pools.vpc_uids, np.full(n, sl.account)),
        s_ip=sl.address(clients),
        s_inst=au.take(sl.instance_uids, clients),
        hostnames=hosts,
        qtype=qtype,
        counts=keep.sum(axis=1),
        rdata=au.take(pools.addresses, answers[keep]),
        rcode=rcode,
    )


def onprem_queries(sl: Slice, n: int) -> None:
    """On-premises clients resolving the account's services through its resolver endpoint."""
    rng, pools = sl.rng, sl.pools
    svc = rng.choice([s.name for s in SERVICES if s.tier != "data"], n)
    host_idx = np.array([pools.host_internal[(sl.account, s)] for s in svc])
    ans = np.array([pools.addr_index[sl.world.service_instances(sl.account, s)[0].ip] for s in svc])
    sl.queries(
        rng.integers(sl.t0, sl.t1, n),
        from_resolver=True,
        s_vpc=au.take(pools.vpc_uids, np.full(n, sl.account)),
        s_ip=au.ipv4_strings(au.random_in_ranges(rng, pools.onprem, n)),
        s_inst=au.const(None, n),
        hostnames=au.take(pools.hostnames, host_idx),
        qtype=np.zeros(n, np.int64),
        counts=np.ones(n, np.int64),
        rdata=au.take(pools.addresses, ans),
        rcode=np.zeros(n, np.int64),
    )
