"""Evaluation data sets written independently of lakewatch's synthetic lake and of each other.

Each is built from a published description, with parameters of its own, and knows nothing of
the lake's generator (which has its own set in ``bench.quality``):

- ``login``: the login generator of SageMaker's IP Insights tutorial, as the tutorial describes
  it: users with a home and a work network (near each other in the address plan), a per-user
  probability of logging in from home (Beta(3, 5)) and of travelling (Beta(1, 30)), a Pareto
  number of events per user, networks of very different sizes. Anomalies as the tutorial makes
  them: a user paired with another user's address (``shuffled``), or with a random address.
- ``fleet``: instances grouped into services; a service's instances share dependency ranges
  (private /24-/26 ranges and a few public ones, Zipf-weighted), and any one instance sees only
  part of them in training, so a normal test pair is often an address its siblings used and it
  did not. Anomalies: ``lateral`` (an address from another service's private ranges) and
  ``external`` (a uniformly random public address).
- ``drift``: the fleet, trained on days 1..N and tested on day N+2, after new instances joined
  (unknown to the model: reported, not scored), services took on new dependencies, and some
  old dependencies moved to new hosts.

The sets in ``bench.sets`` (LANL authentication, CIDDS-001, a fleet with churn) are written
apart from these and from each other; only the ``Dataset`` container is shared.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.sets import Dataset, Pairs

__all__ = ["Dataset", "Pairs", "drift", "fleet", "login"]


def _ip(values: np.ndarray) -> list[str]:
    v = values.astype(np.uint64)
    return [
        f"{a}.{b}.{c}.{d}"
        for a, b, c, d in zip(v >> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255, strict=True)
    ]


def _public(rng: np.random.Generator, n: int) -> np.ndarray:
    """Uniform addresses outside 0/8, 10/8, 127/8, 172.16/12, 192.168/16 and 224/3."""
    out = rng.integers(1 << 24, 224 << 24, 3 * n + 64, dtype=np.uint64)
    first = out >> 24
    second = (out >> 16) & 255
    bad = (first == 10) | (first == 127) | ((first == 172) & (second >= 16) & (second < 32))
    bad |= (first == 192) & (second == 168)
    return out[~bad][:n]


def _split(rng: np.random.Generator, ents: list[str], ips: list[str], share: float):
    mask = rng.random(len(ents)) < share

    def pick(m: np.ndarray) -> Pairs:
        return [e for e, k in zip(ents, m, strict=True) if k], [
            a for a, k in zip(ips, m, strict=True) if k
        ]

    return pick(~mask), pick(mask)


# -- login (SageMaker's IP Insights tutorial, re-implemented from its description) -----------


def login(seed: int = 101, users: int = 3000, networks: int = 4000) -> Dataset:
    rng = np.random.default_rng(seed)
    # networks ("ASNs"): public prefixes of /16../24, sorted by address (the "address plan")
    sizes = rng.choice([16, 18, 20, 22, 24], networks, p=[0.1, 0.15, 0.25, 0.25, 0.25])
    base = np.sort(_public(rng, networks))
    base = base & ~((np.uint64(1) << (32 - sizes).astype(np.uint64)) - np.uint64(1))
    popularity = 1.0 / np.arange(1, networks + 1) ** 0.8
    popularity = popularity[rng.permutation(networks)]
    popularity /= popularity.sum()

    def host(net: int, k: int = 1) -> np.ndarray:
        span = 1 << (32 - int(sizes[net]))
        return base[net] + rng.integers(1, span - 1, k, dtype=np.uint64)

    train_e, train_a, test_e, test_a = [], [], [], []
    user_ips: dict[int, list[int]] = {}
    for u in range(users):
        home = int(rng.choice(networks, p=popularity))
        work = int(np.clip(home + rng.integers(-50, 51), 0, networks - 1))
        p_home = rng.beta(3, 5)
        p_travel = rng.beta(1, 30)
        events = int(min(2000, (rng.pareto(1.0) + 1) * 20))
        home_ips, work_ips = host(home, 2), host(work, 3)  # a few addresses per place, reused
        ips = []
        for _ in range(events + 4):
            if rng.random() < p_travel:
                ips.append(int(host(int(rng.choice(networks, p=popularity)))[0]))
            elif rng.random() < p_home:
                ips.append(int(rng.choice(home_ips)))
            else:
                ips.append(int(rng.choice(work_ips)))
        user_ips[u] = ips
        cut = max(2, int(len(ips) * 0.8))
        train_e += [f"user_{u}"] * cut
        train_a += ips[:cut]
        test_e += [f"user_{u}"] * (len(ips) - cut)
        test_a += ips[cut:]
    train_ips = _ip(np.array(train_a, np.uint64))
    (tr_e, tr_a), (va_e, va_a) = _split(rng, train_e, train_ips, 0.1)
    n = min(len(test_e), 20_000)
    pick = rng.choice(len(test_e), n, replace=False)
    normal = ([test_e[i] for i in pick], _ip(np.array([test_a[i] for i in pick], np.uint64)))
    k = 3000
    anom_users = rng.integers(0, users, k)
    others = rng.integers(0, users, k)
    shuffled_ips = [user_ips[int(o)][int(rng.integers(0, len(user_ips[int(o)])))] for o in others]
    keep = [
        i
        for i in range(k)
        if others[i] != anom_users[i] and shuffled_ips[i] not in user_ips[int(anom_users[i])]
    ]
    anomalies = {
        "shuffled": (
            [f"user_{anom_users[i]}" for i in keep],
            _ip(np.array([shuffled_ips[i] for i in keep], np.uint64)),
        ),
        "random": ([f"user_{u}" for u in anom_users], _ip(_public(rng, k))),
    }
    return Dataset("login", (tr_e, tr_a), (va_e, va_a), normal, anomalies)


# -- fleet of services ------------------------------------------------------------------------


@dataclass
class _Service:
    private: list[tuple[int, int]]  # (base, hosts) per range
    public: list[tuple[int, int]]
    weights: np.ndarray  # over private + public ranges
    instances: list[str]


def _fleet_world(rng: np.random.Generator, services: int, shared_public: int):
    used = set()

    def private_range() -> tuple[int, int]:
        while True:
            net = (10 << 24) | (int(rng.integers(0, 256)) << 16) | (int(rng.integers(0, 256)) << 8)
            if net not in used:
                used.add(net)
                size = int(rng.choice([64, 128, 256]))  # /26../24
                return net + int(
                    rng.integers(0, 256 - size + 1)
                ) // 64 * 64 if size < 256 else net, size

    commons = [(int(b), 256) for b in (_public(rng, shared_public) & np.uint64(0xFFFFFF00))]
    world = []
    for s in range(services):
        priv = [private_range() for _ in range(int(rng.integers(3, 9)))]
        pub = [
            (int(b), 256) for b in (_public(rng, int(rng.integers(1, 4))) & np.uint64(0xFFFFFF00))
        ]
        pub += [commons[int(i)] for i in rng.choice(len(commons), 2, replace=False)]
        w = 1.0 / np.arange(1, len(priv) + len(pub) + 1) ** 1.1
        w = w[rng.permutation(w.size)]
        n_inst = int(rng.integers(4, 25))
        world.append(_Service(priv, pub, w / w.sum(), [f"i-{s:03d}{k:04x}" for k in range(n_inst)]))
    return world


def _hosts(rng: np.random.Generator, rng_base: int, size: int, k: int) -> np.ndarray:
    """A range's servers: a fixed small set of addresses (seeded by the range)."""
    r = np.random.default_rng(rng_base)
    servers = rng_base + r.choice(np.arange(1, size - 1), min(size - 2, 12), replace=False)
    return servers[rng.integers(0, servers.size, k)]


def _traffic(rng, svc: _Service, instance_ranges: np.ndarray, events: int) -> list[int]:
    ranges = svc.private + svc.public
    w = svc.weights[instance_ranges]
    picks = instance_ranges[rng.choice(instance_ranges.size, events, p=w / w.sum())]
    out = []
    for r in np.unique(picks):
        k = int((picks == r).sum())
        out += [int(x) for x in _hosts(rng, *ranges[r], k)]
    return out


def fleet(seed: int = 202, services: int = 60, see_share: float = 0.6, days: int = 1) -> Dataset:
    rng = np.random.default_rng(seed)
    world = _fleet_world(rng, services, shared_public=12)
    train_e, train_a, norm_e, norm_a = [], [], [], []
    for svc in world:
        n_ranges = len(svc.private) + len(svc.public)
        for inst in svc.instances:
            seen = np.flatnonzero(rng.random(n_ranges) < see_share)
            if seen.size == 0:
                seen = np.array([int(np.argmax(svc.weights))])
            events = int(rng.lognormal(5.0, 0.8) * days)
            ips = _traffic(rng, svc, seen, events)
            train_e += [inst] * len(ips)
            train_a += ips
            ips = _traffic(rng, svc, np.arange(n_ranges), max(5, events // (4 * days)))
            norm_e += [inst] * len(ips)
            norm_a += ips
    (tr_e, tr_a), (va_e, va_a) = _split(rng, train_e, _ip(np.array(train_a, np.uint64)), 0.1)
    anomalies = _fleet_anomalies(rng, world, 3000)
    return Dataset(
        "fleet", (tr_e, tr_a), (va_e, va_a), (norm_e, _ip(np.array(norm_a, np.uint64))), anomalies
    )


def _fleet_anomalies(rng, world: list[_Service], k: int) -> dict[str, Pairs]:
    lat_e, lat_a, ext_e, ext_a = [], [], [], []
    for _ in range(k):
        s, t = rng.choice(len(world), 2, replace=False)
        inst = world[s].instances[int(rng.integers(0, len(world[s].instances)))]
        own = {b for b, _ in world[s].private}
        candidates = [r for r in world[t].private if r[0] not in own]
        base, size = candidates[int(rng.integers(0, len(candidates)))]
        lat_e.append(inst)
        lat_a.append(int(_hosts(rng, base, size, 1)[0]))
        ext_e.append(inst)
    ext_a = _public(rng, k)
    return {
        "lateral": (lat_e, _ip(np.array(lat_a, np.uint64))),
        "external": (ext_e, _ip(ext_a)),
    }


def drift(seed: int = 303, services: int = 60, days: int = 5) -> Dataset:
    """Train on days 1..N of a fleet; test on day N+2 after the environment moved."""
    rng = np.random.default_rng(seed)
    world = _fleet_world(rng, services, shared_public=12)
    train_e, train_a = [], []
    for _day in range(days):
        for svc in world:
            n_ranges = len(svc.private) + len(svc.public)
            for inst in svc.instances:
                seen = np.flatnonzero(rng.random(n_ranges) < 0.5)
                if seen.size == 0:
                    continue
                ips = _traffic(rng, svc, seen, int(rng.lognormal(3.5, 0.8)))
                train_e += [inst] * len(ips)
                train_a += ips
    # day N+2: new instances, new dependencies, some ranges re-hosted
    new_instances = 0
    for s, svc in enumerate(world):
        if rng.random() < 0.3:
            extra = int(rng.integers(1, 4))
            svc.instances += [f"i-{s:03d}n{k:03x}" for k in range(extra)]
            new_instances += extra
        if rng.random() < 0.5:
            net = (10 << 24) | (int(rng.integers(0, 256)) << 16) | (int(rng.integers(0, 256)) << 8)
            svc.private.append((net, 256))
            svc.weights = np.append(svc.weights * 0.9, 0.1)
    norm_e, norm_a = [], []
    known = set(train_e)
    unknown_pairs = 0
    for svc in world:
        n_ranges = len(svc.private) + len(svc.public)
        for inst in svc.instances:
            ips = _traffic(rng, svc, np.arange(n_ranges), int(rng.lognormal(3.5, 0.8)))
            if inst not in known:
                unknown_pairs += len(ips)
                continue
            norm_e += [inst] * len(ips)
            norm_a += ips
    (tr_e, tr_a), (va_e, va_a) = _split(rng, train_e, _ip(np.array(train_a, np.uint64)), 0.1)
    anomalies = _fleet_anomalies(rng, world, 3000)
    anomalies = {
        k: ([e for e in v[0] if e in known], [a for e, a in zip(*v, strict=True) if e in known])
        for k, v in anomalies.items()
    }
    return Dataset(
        "drift",
        (tr_e, tr_a),
        (va_e, va_a),
        (norm_e, _ip(np.array(norm_a, np.uint64))),
        anomalies,
        [
            f"{new_instances} new instances ({unknown_pairs:,} pairs) are unknown to the model: "
            "reported as unknown_entity findings, not scored"
        ],
    )
