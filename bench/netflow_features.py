"""A NetFlow feature set per host and hour, written from the CIDDS-001 description.

CIDDS-001 (Ring et al., 2017) records a small business network emulated in OpenStack: office
clients that browse, mail and use file shares in working hours, and servers (web, mail, file,
backup) that answer all day; attacks are ping scans, port scans, SSH brute force and DoS. This
generator knows nothing of lakewatch's lake: it draws per-host-hour features directly, scaled
as RCF needs them (log counts, shares in [0, 1], the hour on a circle), so no raw magnitude
dominates the cuts.

Features: log flows, log bytes out, log mean bytes a flow, log distinct destination ports,
log distinct peers, TCP / UDP / ICMP shares, share of flows to well-known ports, share of
SYN-only (failed) flows, sin and cos of the hour.
"""

from __future__ import annotations

import numpy as np

KINDS = ("port_scan", "ping_scan", "ssh_brute_force", "dos", "exfiltration")
# the count columns (flows, bytes out, ports, peers: not the bytes a flow) and the hour's two
COUNT_COLUMNS = (0, 1, 3, 4)
HOUR_COLUMNS = (10, 11)


def _hosts(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    server = rng.random(n) < 0.25
    return {
        "server": server,
        "rate": np.where(server, rng.lognormal(5.0, 0.5, n), rng.lognormal(3.5, 0.6, n)),
        "bytes": rng.lognormal(8.5, 0.7, n),
        "ports": np.where(server, rng.integers(2, 6, n), rng.integers(3, 12, n)),
        "peers": np.where(server, rng.integers(20, 80, n), rng.integers(3, 25, n)),
        "udp": rng.beta(2, 12, n),
    }


def _activity(hosts: dict[str, np.ndarray], idx: np.ndarray, hour: np.ndarray) -> np.ndarray:
    """Clients work 8-18 and idle otherwise; servers follow their clients, less sharply."""
    office = ((hour >= 8) & (hour < 18)).astype(float)
    return np.where(hosts["server"][idx], 0.5 + 0.5 * office, 0.08 + 0.92 * office)


def _rows(rng, hosts, idx, hour, flows, bytes_out, ports, peers, tcp, udp, icmp, known, syn):
    angle = 2 * np.pi * hour / 24
    return np.column_stack(
        [
            np.log1p(flows),
            np.log1p(bytes_out),
            np.log1p(bytes_out / np.maximum(flows, 1)),
            np.log1p(ports),
            np.log1p(peers),
            tcp,
            udp,
            icmp,
            known,
            syn,
            np.sin(angle),
            np.cos(angle),
        ]
    ).astype(np.float32)


def normal(rng: np.random.Generator, hosts: dict[str, np.ndarray], n: int) -> np.ndarray:
    return _normal(rng, hosts, n)[0]


def _normal(
    rng: np.random.Generator, hosts: dict[str, np.ndarray], n: int
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` normal host-hours and the host each is of."""
    idx = rng.integers(0, len(hosts["server"]), n)
    hour = rng.integers(0, 24, n)
    flows = rng.poisson(hosts["rate"][idx] * _activity(hosts, idx, hour)) + 1
    bytes_out = flows * hosts["bytes"][idx] * rng.lognormal(0, 0.4, n)
    ports = np.minimum(flows, rng.poisson(hosts["ports"][idx]) + 1)
    peers = np.minimum(flows, rng.poisson(hosts["peers"][idx] * 0.3 + 1) + 1)
    udp = np.clip(hosts["udp"][idx] + rng.normal(0, 0.03, n), 0, 1)
    icmp = rng.beta(1, 80, n)
    tcp = np.clip(1 - udp - icmp, 0, 1)
    known = rng.beta(30, 2, n)
    syn = rng.beta(1, 60, n)
    rows = _rows(rng, hosts, idx, hour, flows, bytes_out, ports, peers, tcp, udp, icmp, known, syn)
    return rows, idx


def anomalies(rng: np.random.Generator, hosts: dict[str, np.ndarray], kind: str, n: int):
    """Rows of one attack, from a normal host-hour the attack is added to."""
    return _anomalies(rng, hosts, kind, n)[0]


def _anomalies(
    rng: np.random.Generator, hosts: dict[str, np.ndarray], kind: str, n: int
) -> tuple[np.ndarray, np.ndarray]:
    rows, idx = _normal(rng, hosts, n)
    base = rows.astype(np.float64)
    flows = np.expm1(base[:, 0])
    if kind == "port_scan":  # one peer, hundreds of ports, SYN-only, tiny flows
        extra = rng.integers(300, 2000, n)
        base[:, 0] = np.log1p(flows + extra)
        base[:, 2] = np.log1p(np.expm1(base[:, 1]) / (flows + extra))
        base[:, 3] = np.log1p(extra)
        base[:, 8] = rng.beta(2, 8, n)
        base[:, 9] = rng.beta(8, 2, n)
    elif kind == "ping_scan":  # ICMP to a whole subnet
        extra = rng.integers(100, 256, n)
        base[:, 0] = np.log1p(flows + extra)
        base[:, 4] = np.log1p(extra)
        base[:, 7] = extra / (flows + extra)
        base[:, 5] = np.clip(base[:, 5] - base[:, 7], 0, 1)
    elif kind == "ssh_brute_force":  # many short flows to port 22 of one peer
        extra = rng.integers(200, 1500, n)
        base[:, 0] = np.log1p(flows + extra)
        base[:, 2] = np.log1p(np.expm1(base[:, 1]) / (flows + extra))
        base[:, 9] = rng.beta(4, 6, n)
    elif kind == "dos":  # a flood of flows at one target
        extra = rng.integers(5000, 50000, n)
        base[:, 0] = np.log1p(flows + extra)
        base[:, 1] = np.log1p(np.expm1(base[:, 1]) + extra * 60)
        base[:, 2] = np.log1p(np.expm1(base[:, 1]) / (flows + extra))
    elif kind == "exfiltration":  # ten to fifty times the usual bytes out
        base[:, 1] += np.log(rng.uniform(10, 50, n))
        base[:, 2] += base[:, 1] - np.log1p(np.expm1(base[:, 1]))
    return base.astype(np.float32), idx


def dataset(seed: int = 17, hosts: int = 400, train: int = 40000, test: int = 4000, per_kind=80):
    """(train rows, normal test rows, {kind: anomalous rows})."""
    train_rows, test_rows, attacks, _ = dataset_with_hosts(seed, hosts, train, test, per_kind)
    return train_rows, test_rows, attacks


def dataset_with_hosts(
    seed: int = 17, hosts: int = 400, train: int = 40000, test: int = 4000, per_kind=80
):
    """``dataset``'s rows (the same draws) and the host of every row: (train, normal test,
    {kind: anomalous}, {"train": hosts, "normal": hosts, kind: hosts}). Every host keeps its
    own levels (rate, bytes a flow, ports, peers, UDP share) across its hours, so a host's
    training hours say what it usually does."""
    rng = np.random.default_rng(seed)
    world = _hosts(rng, hosts)
    train_rows, train_hosts = _normal(rng, world, train)
    test_rows, test_hosts = _normal(rng, world, test)
    attacks, owners = {}, {"train": train_hosts, "normal": test_hosts}
    for kind in KINDS:
        attacks[kind], owners[kind] = _anomalies(rng, world, kind, per_kind)
    return train_rows, test_rows, attacks, owners
