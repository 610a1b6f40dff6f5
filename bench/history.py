"""The detector's history build: its peak memory and time, against the build it replaced.

``History.build`` sorts each level's pair keys a block at a time (``_PairBlocks``); before,
one ``np.unique`` sorted every pair's keys with a sort index beside them, while every pair's
prefix keys (and the /24's, for the peer groups) were held too: at 34.7M pairs that was the
large-lake backtest's peak (3.36 GB; docs/benchmarks.md). Both builds run here on the same
pairs, each in a fresh interpreter, and must give the same history (a digest of every array).

Two sets: pairs shaped like the large lake's (60 instances, 12 services; most pairs are an
instance and one of its service's few hundred addresses, repeated many times, and 3% a random
address of the whole internet), and the worst case, every address random (pairs rarely
repeat). IPv4 only, as the lake's, held as ``read_pairs`` holds them (no upper halves).
"""

from __future__ import annotations

import hashlib
import re
import time

import numpy as np

from bench.common import isolated, row

GEN_CHUNK = 1 << 20


def synthetic_pairs(kind: str, n: int, seed: int = 0):
    """``n`` (entity hash, address) pairs, generated a chunk at a time (the generator's
    temporaries stay small beside the build measured)."""
    from lakewatch.model.data import _zeros
    from lakewatch.model.encoding import Addresses, entity_hashes

    rng = np.random.default_rng(seed)
    instances = entity_hashes([f"i-{k:017x}" for k in range(60)])
    ent = np.empty(n, np.uint64)
    lo = np.empty(n, np.uint64)
    # each of 12 services: 300 addresses of its own ranges (10.s.x.y) and 200 shared ones
    own = (10 << 24) + (np.arange(12)[:, None] << 16) + rng.integers(0, 1 << 16, (12, 300))
    shared = rng.integers(0, 1 << 32, 200)
    pool = np.concatenate([own, np.broadcast_to(shared, (12, 200))], axis=1).astype(np.uint64)
    weight = 1.0 / np.arange(1, pool.shape[1] + 1)  # a few addresses most of the time
    weight /= weight.sum()
    for lo_at in range(0, n, GEN_CHUNK):
        m = min(GEN_CHUNK, n - lo_at)
        at = slice(lo_at, lo_at + m)
        who = rng.integers(0, instances.size, m)
        ent[at] = instances[who]
        if kind == "random":
            lo[at] = rng.integers(0, 1 << 32, m, dtype=np.uint64)
            continue
        pick = rng.choice(pool.shape[1], m, p=weight)
        lo[at] = pool[who % 12, pick]
        wild = rng.random(m) < 0.03
        lo[at][wild] = rng.integers(0, 1 << 32, int(wild.sum()), dtype=np.uint64)
    return ent, Addresses(np.full(n, 4, np.uint8), _zeros(n), lo)


def old_build(entity_hash, addrs, peers: int = 10, max_shared: int = 0):
    """``History.build`` as it was before the blocks (commit 7e89134): one sort of every
    pair's keys a level, every pair's prefix keys and the /24's held beside it."""
    from lakewatch.model.history import (
        PEER_LEVEL,
        V4_LEVELS,
        GroupIndex,
        History,
        _count,
        _group_cap,
        _peer_groups,
        pair_keys,
        prefix_keys,
    )

    valid = addrs.valid
    ent, addrs = (
        (entity_hash, addrs)
        if valid.all()
        else (entity_hash[valid], addrs.take(np.flatnonzero(valid)))
    )
    ekeys, ecounts, gkeys, gcounts = [], [], [], []
    peer_prefix, peer_first = prefix_keys(addrs, PEER_LEVEL), np.zeros(0, np.int64)
    for level in range(len(V4_LEVELS)):
        pk = peer_prefix if level == PEER_LEVEL else prefix_keys(addrs, level)
        keys, first, counts = np.unique(pair_keys(ent, pk), return_index=True, return_counts=True)
        ekeys.append(keys)
        ecounts.append(counts.astype(np.uint32))
        del counts
        k, c = _count(pk[first])
        gkeys.append(k)
        gcounts.append(c)
        if level == PEER_LEVEL:
            peer_first = first
        del pk, first
    entities, activity = np.unique(ent, return_counts=True)
    peer_hash, peer_weight = _peer_groups(
        ent[peer_first], peer_prefix[peer_first], entities, peers, max_shared
    )
    groups = GroupIndex.build(  # the group index's cap as today's (not the algorithm's)
        ent[peer_first], peer_prefix[peer_first], entities, _group_cap(max_shared, entities)
    )
    return History(
        ekeys, ecounts, gkeys, gcounts, entities, activity.astype(np.uint32), peer_hash,
        peer_weight, groups, None,
    )  # fmt: skip


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        found = re.search(rf"^{field}:\s+(\d+) kB", f.read(), re.M)
    return int(found.group(1)) if found else 0


def build_memory(kind: str, n: int, path: str, block_rows: int = 0) -> dict:
    """One build (``path``: "old" or "new", in blocks of ``block_rows`` pairs, 0: the
    default) over ``n`` synthetic pairs: the process's peak RSS during it (the pairs
    included), the RSS before it, its seconds, and a digest."""
    import gc

    from lakewatch.model.history import BLOCK_ROWS, History
    from lakewatch.model.memory import release_freed_memory

    ent, addrs = synthetic_pairs(kind, n)
    gc.collect()
    release_freed_memory()
    before = _status_kb("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # the peak RSS (VmHWM) from here on: the build's, not the generator's
    started = time.perf_counter()
    if path == "old":
        h = old_build(ent, addrs)
    else:
        h = History.build(ent, addrs, block_rows=block_rows or BLOCK_ROWS)
    seconds = time.perf_counter() - started
    peak = _status_kb("VmHWM")
    digest = hashlib.sha256()
    for name, value in sorted(h.tensors().items()):
        digest.update(name.encode() + np.ascontiguousarray(value).tobytes())
    return {
        "pairs": n,
        "distinct_pairs": int(h.entity_keys[0].size),
        "before_mb": before / 1024,
        "build_peak_mb": peak / 1024,
        "seconds": seconds,
        "digest": digest.hexdigest(),
    }


def run(quick: bool = False) -> list[str]:
    # quick: blocks of 16,384 pairs, so the blocks' path runs on its small sets too
    sets = [("lake", 35_000_000), ("random", 8_000_000)]
    block_rows = 0
    if quick:
        sets, block_rows = [("lake", 200_000), ("random", 200_000)], 1 << 14
    lines = ["Detector history build (History.build), each build in a fresh interpreter"]
    for kind, n in sets:
        old = isolated("bench.history", "build_memory", kind=kind, n=n, path="old")
        new = isolated(
            "bench.history", "build_memory", kind=kind, n=n, path="new", block_rows=block_rows
        )
        if new["digest"] != old["digest"]:
            raise RuntimeError(f"history bench: the builds differ on the {kind} pairs")
        label = "lake-shaped" if kind == "lake" else "random"
        lines.append(
            row(
                f"history build, {n / 1e6:g}M {label} pairs, peak RSS",
                f"{new['build_peak_mb']:,.0f} MB",
                f"{new['build_peak_mb'] / old['build_peak_mb']:.2f}x the one-sort build "
                f"({old['build_peak_mb']:,.0f} MB, same pairs, same history); the pairs "
                f"alone {new['before_mb']:,.0f} MB, so the build's own "
                f"{new['build_peak_mb'] - new['before_mb']:,.0f} MB against "
                f"{old['build_peak_mb'] - old['before_mb']:,.0f}; {new['seconds']:.1f} s "
                f"against {old['seconds']:.1f} s; {new['distinct_pairs']:,} distinct pairs",
            )
        )
    return lines
