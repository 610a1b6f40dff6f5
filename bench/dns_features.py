"""A DNS feature set per host and hour, written from the CIC-Bell-DNS-EXF-2021 description.

That data set (Mahdavifar et al., 2021) contrasts benign resolver traffic with DNS
exfiltration and tunnelling (long, high-entropy query names, TXT records, many one-off
subdomains of one domain) and with malware whose domain generation algorithm (DGA) resolves
many random names, most of them NXDOMAIN. This generator knows nothing of lakewatch's lake or
of the NetFlow set: it draws per-host-hour features directly, already scaled.

Features: log queries, log distinct names, mean query name length / 64, mean label entropy /
5 bits, mean subdomain depth / 5, NXDOMAIN / TXT / AAAA shares, log response bytes per query.
"""

from __future__ import annotations

import numpy as np

KINDS = ("tunnelling", "dga", "exfiltration_slow")
COUNT_COLUMNS = (0, 1)  # queries and distinct names (not the response bytes a query)


def _hosts(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    return {
        "rate": rng.lognormal(4.0, 0.8, n),
        "repeat": rng.beta(6, 3, n),  # share of queries to names already asked this hour
        "length": rng.normal(18, 3, n),
        "aaaa": rng.beta(3, 6, n),
    }


def _rows(queries, distinct, length, entropy, depth, nx, txt, aaaa, resp):
    return np.column_stack(
        [
            np.log1p(queries),
            np.log1p(distinct),
            length / 64,
            entropy / 5,
            depth / 5,
            nx,
            txt,
            aaaa,
            np.log1p(resp),
        ]
    ).astype(np.float32)


def normal(rng: np.random.Generator, hosts: dict[str, np.ndarray], n: int) -> np.ndarray:
    return _normal(rng, hosts, n)[0]


def _normal(
    rng: np.random.Generator, hosts: dict[str, np.ndarray], n: int
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` normal host-hours and the host each is of."""
    idx = rng.integers(0, len(hosts["rate"]), n)
    hour = rng.integers(0, 24, n)
    busy = np.where((hour >= 7) & (hour < 20), 1.0, 0.2)
    queries = rng.poisson(hosts["rate"][idx] * busy) + 1
    distinct = np.maximum(1, rng.binomial(queries, 1 - hosts["repeat"][idx]))
    length = np.clip(hosts["length"][idx] + rng.normal(0, 2, n), 4, 60)
    entropy = np.clip(rng.normal(2.9, 0.25, n), 1, 5)
    depth = np.clip(rng.normal(2.2, 0.3, n), 1, 6)
    nx = rng.beta(1, 40, n)
    txt = rng.beta(1, 200, n)
    aaaa = np.clip(hosts["aaaa"][idx] + rng.normal(0, 0.05, n), 0, 1)
    resp = rng.lognormal(4.6, 0.3, n)
    return _rows(queries, distinct, length, entropy, depth, nx, txt, aaaa, resp), idx


def anomalies(rng: np.random.Generator, hosts: dict[str, np.ndarray], kind: str, n: int):
    return _anomalies(rng, hosts, kind, n)[0]


def _anomalies(
    rng: np.random.Generator, hosts: dict[str, np.ndarray], kind: str, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of one kind, each added to a normal host-hour, and their hosts."""
    rows, idx = _normal(rng, hosts, n)
    base = rows.astype(np.float64)
    queries = np.expm1(base[:, 0])
    if kind == "tunnelling":  # a stream of long encoded names, TXT answers
        extra = rng.integers(200, 3000, n)
        share = extra / (queries + extra)
        base[:, 0] = np.log1p(queries + extra)
        base[:, 1] = np.log1p(np.expm1(base[:, 1]) + extra)
        base[:, 2] = (base[:, 2] * (1 - share)) + share * rng.uniform(50, 63, n) / 64
        base[:, 3] = (base[:, 3] * (1 - share)) + share * rng.uniform(4.3, 4.9, n) / 5
        base[:, 4] = (base[:, 4] * (1 - share)) + share * rng.uniform(3.5, 5, n) / 5
        base[:, 6] = share * rng.uniform(0.5, 1, n)
    elif kind == "dga":  # many random names, most never registered
        extra = rng.integers(50, 800, n)
        share = extra / (queries + extra)
        base[:, 0] = np.log1p(queries + extra)
        base[:, 1] = np.log1p(np.expm1(base[:, 1]) + extra)
        base[:, 3] = (base[:, 3] * (1 - share)) + share * rng.uniform(3.6, 4.2, n) / 5
        base[:, 5] = share * rng.uniform(0.8, 0.98, n)
    elif kind == "exfiltration_slow":  # a few long high-entropy names an hour, below volume
        extra = rng.integers(5, 30, n)
        share = extra / (queries + extra)
        base[:, 2] = (base[:, 2] * (1 - share)) + share * rng.uniform(55, 63, n) / 64
        base[:, 3] = (base[:, 3] * (1 - share)) + share * rng.uniform(4.5, 4.9, n) / 5
        base[:, 6] = np.maximum(base[:, 6], share * 0.5)
    return base.astype(np.float32), idx


def dataset(seed: int = 29, hosts: int = 300, train: int = 30000, test: int = 3000, per_kind=80):
    """(train rows, normal test rows, {kind: anomalous rows})."""
    train_rows, test_rows, attacks, _ = dataset_with_hosts(seed, hosts, train, test, per_kind)
    return train_rows, test_rows, attacks


def dataset_with_hosts(
    seed: int = 29, hosts: int = 300, train: int = 30000, test: int = 3000, per_kind=80
):
    """``dataset``'s rows (the same draws) and each row's host: (train, normal test, {kind:
    anomalous}, {"train": hosts, "normal": hosts, kind: hosts}). A host keeps its query rate,
    repeat share, name length and AAAA share across its hours."""
    rng = np.random.default_rng(seed)
    world = _hosts(rng, hosts)
    train_rows, train_hosts = _normal(rng, world, train)
    test_rows, test_hosts = _normal(rng, world, test)
    attacks, owners = {}, {"train": train_hosts, "normal": test_hosts}
    for kind in KINDS:
        attacks[kind], owners[kind] = _anomalies(rng, world, kind, per_kind)
    return train_rows, test_rows, attacks, owners
