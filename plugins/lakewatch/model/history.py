"""What each entity, its peer group and the whole environment did in training, by prefix.

The evidence beside IP Insights' dot product: how new an address's /32, /24, /16 and /8 are for
the entity (IPv6: /128, /64, /48, /32), for the entity's peer group, and for everyone; and
whose it is: the share of the /32's (and /24's) users that are the entity or its peers (an
address other groups use and this one never did belongs to someone else). A model
trained by gradient descent smooths this away for rarely seen entities; the counts keep it.

The peer group is found from the data, not from names or tags: an entity's peers are the
entities whose /24s overlap most with its own (IDF-weighted cosine over the /24s that fewer
than ``max_shared`` entities use), so instances of one service, whose dependencies they share,
find each other. Everything is held as sorted uint64 keys and counts: lookups are vectorised
``searchsorted`` calls, and the whole history saves as plain arrays (safetensors).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lakewatch.model.encoding import Addresses, _mix

V4_LEVELS = (32, 24, 16, 8)
V6_LEVELS = (128, 64, 48, 32)
PEER_LEVEL = 1  # the /24 (IPv6 /64) defines and tests peer groups
PEERS = 10
PEER_CHUNK = 512  # rows of the entity similarity computed at once: bounded memory
FEATURES = (
    "entity_32",
    "entity_24",
    "entity_16",
    "entity_8",
    "peers_32",
    "peers_24",
    "peers_16",
    "everyone_32",
    "everyone_24",
    "entity_activity",
    "owned_32",
    "owned_24",
)
_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def prefix_keys(addrs: Addresses, level: int) -> np.ndarray:
    """A 64-bit key of each address's prefix at ``level`` (0 = the whole address)."""
    v4bits, v6bits = V4_LEVELS[level], V6_LEVELS[level]
    key = addrs.lo >> np.uint64(32 - v4bits)
    key = _mix(key ^ np.uint64((4 << 8) | v4bits))
    v6 = addrs.family == 6
    if v6.any():
        hi, lo = addrs.hi[v6], addrs.lo[v6]
        if v6bits <= 64:
            k6 = _mix((hi >> np.uint64(64 - v6bits)) ^ np.uint64((6 << 8) | v6bits))
        else:
            k6 = _mix(_mix(hi ^ np.uint64((6 << 8) | v6bits)) ^ lo)
        key[v6] = k6
    return key


def pair_keys(entity_hash: np.ndarray, prefix: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return _mix((entity_hash * np.uint64(0x9E3779B97F4A7C15)) & _M64 ^ prefix)


def _lookup(keys: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
    """``values`` at ``query``'s place in the sorted ``keys``; 0 where absent."""
    if keys.size == 0:
        return np.zeros(query.shape, values.dtype)
    pos = np.minimum(np.searchsorted(keys, query), keys.size - 1)
    return np.where(keys[pos] == query, values[pos], 0)


def _count(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    uniq, counts = np.unique(keys, return_counts=True)
    return uniq, counts.astype(np.uint32)


@dataclass
class History:
    """Counts by (entity, prefix), by prefix over distinct entities, and peer lists."""

    entity_keys: list[np.ndarray]  # per level: sorted pair keys
    entity_counts: list[np.ndarray]
    everyone_keys: list[np.ndarray]  # per level: sorted prefix keys
    everyone_counts: list[np.ndarray]  # distinct entities with that prefix
    entities: np.ndarray  # sorted entity hashes
    activity: np.ndarray  # pairs per entity
    peers: np.ndarray  # (n_entities, k) peer hashes (0 = none)
    peer_weights: np.ndarray  # (n_entities, k) float32 similarities

    @classmethod
    def build(
        cls, entity_hash: np.ndarray, addrs: Addresses, peers: int = PEERS, max_shared: int = 0
    ) -> History:
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
            # one sort of 64-bit (entity, prefix) keys gives both counts: per pair, and (the
            # prefix of each distinct pair) per prefix over distinct entities
            keys, first, counts = np.unique(
                pair_keys(ent, pk), return_index=True, return_counts=True
            )
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
        return cls(
            ekeys,
            ecounts,
            gkeys,
            gcounts,
            entities,
            activity.astype(np.uint32),
            peer_hash,
            peer_weight,
        )

    # features ------------------------------------------------------------------------------

    def features(self, entity_hash: np.ndarray, addrs: Addresses) -> np.ndarray:
        """(n, len(FEATURES)) float32 evidence for each pair; log counts and peer shares."""
        n = len(entity_hash)
        out = np.zeros((n, len(FEATURES)), np.float32)
        prefixes = [prefix_keys(addrs, level) for level in range(len(V4_LEVELS))]
        for level in range(len(V4_LEVELS)):
            hits = _lookup(
                self.entity_keys[level],
                self.entity_counts[level],
                pair_keys(entity_hash, prefixes[level]),
            )
            out[:, level] = np.log1p(hits)
        pos, known = self._rows(entity_hash)
        users_in_group = [(out[:, level] > 0).astype(np.float32) for level in (0, 1)]
        group_size = np.ones(n, np.float32)
        if self.peers.size:
            peer_hash = self.peers[pos]  # (n, k)
            weight = np.where(known[:, None], self.peer_weights[pos], 0.0)
            total = np.maximum(weight.sum(axis=1), 1e-9)
            group_size += ((peer_hash != 0) & known[:, None]).sum(axis=1)
            for col, level in ((4, 0), (5, 1), (6, 2)):
                query = pair_keys(
                    peer_hash.reshape(-1), np.repeat(prefixes[level], peer_hash.shape[1])
                )
                used = _lookup(self.entity_keys[level], self.entity_counts[level], query) > 0
                used = used.reshape(peer_hash.shape) & (peer_hash != 0) & known[:, None]
                out[:, col] = (weight * used).sum(axis=1) / total
                if level < 2:
                    users_in_group[level] += used.sum(axis=1)
        for col, level in ((7, 0), (8, 1)):
            users = _lookup(self.everyone_keys[level], self.everyone_counts[level], prefixes[level])
            out[:, col] = np.log1p(users)
            # of the prefix's users the entity's group could hold, the share it does, with a
            # uniform prior: low when other groups use the address and this one never did
            # (someone else's: lateral movement, another user's address), high when all who
            # could have are in the group, 1/2 when nobody used it (no evidence either way)
            room = np.minimum(users, group_size)
            out[:, col + 3] = (np.minimum(users_in_group[level], room) + 1.0) / (room + 2.0)
        out[:, 9] = np.log1p(np.where(known, self.activity[pos] if self.activity.size else 0, 0))
        out[~addrs.valid] = 0.0
        return out

    def known(self, entity_hash: np.ndarray) -> np.ndarray:
        return self._rows(entity_hash)[1]

    def _rows(self, entity_hash: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each entity's row in the history, and whether it is there at all."""
        if not self.entities.size:
            return np.zeros(len(entity_hash), np.int64), np.zeros(len(entity_hash), bool)
        pos = np.minimum(np.searchsorted(self.entities, entity_hash), self.entities.size - 1)
        return pos, self.entities[pos] == entity_hash

    # storage -------------------------------------------------------------------------------

    def tensors(self) -> dict[str, np.ndarray]:
        out = {
            "entities": self.entities,
            "activity": self.activity,
            "peers": self.peers,
            "peer_weights": self.peer_weights,
        }
        for level in range(len(V4_LEVELS)):
            out[f"entity_keys.{level}"] = self.entity_keys[level]
            out[f"entity_counts.{level}"] = self.entity_counts[level]
            out[f"everyone_keys.{level}"] = self.everyone_keys[level]
            out[f"everyone_counts.{level}"] = self.everyone_counts[level]
        return out

    @classmethod
    def from_tensors(cls, t: dict[str, np.ndarray]) -> History:
        levels = range(len(V4_LEVELS))
        return cls(
            [t[f"entity_keys.{i}"] for i in levels],
            [t[f"entity_counts.{i}"] for i in levels],
            [t[f"everyone_keys.{i}"] for i in levels],
            [t[f"everyone_counts.{i}"] for i in levels],
            t["entities"],
            t["activity"],
            t["peers"],
            t["peer_weights"],
        )


def _peer_groups(
    ent: np.ndarray, prefix: np.ndarray, entities: np.ndarray, k: int, max_shared: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each entity's ``k`` most similar entities by IDF-weighted cosine of their /24 sets
    (``ent``, ``prefix``: the distinct (entity, /24) pairs; scipy only here, at build time:
    the scorer Lambda reads histories without it)."""
    import scipy.sparse as sp

    n = entities.size
    if n < 2 or k == 0:
        return np.zeros((n, max(k, 0)), np.uint64), np.zeros((n, max(k, 0)), np.float32)
    r = np.searchsorted(entities, ent).astype(np.int64)
    pu, c = np.unique(prefix, return_inverse=True)
    c = c.reshape(-1)
    df = np.bincount(c, minlength=pu.size)
    cap = max_shared or max(20, int(0.05 * n))
    keep = (df[c] >= 2) & (df[c] <= cap)  # a prefix of one entity says nothing of groups
    r, c = r[keep], c[keep]
    idf = np.log(n / df[c]).astype(np.float32)
    m = sp.csr_matrix((idf, (r, c)), shape=(n, pu.size))
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).reshape(-1))
    m = (sp.diags(1.0 / np.maximum(norms, 1e-9)) @ m).tocsr()
    peers = np.zeros((n, k), np.uint64)
    weights = np.zeros((n, k), np.float32)
    mt = m.T.tocsr()
    for start in range(0, n, PEER_CHUNK):  # a block of rows at a time: bounded memory
        sim = (m[start : start + PEER_CHUNK] @ mt).tocsr()
        for j in range(sim.shape[0]):
            lo, hi = sim.indptr[j], sim.indptr[j + 1]
            cols, vals = sim.indices[lo:hi], sim.data[lo:hi]
            keep = cols != start + j
            cols, vals = cols[keep], vals[keep]
            if cols.size == 0:
                continue
            top = np.argsort(-vals, kind="stable")[:k]
            peers[start + j, : top.size] = entities[cols[top]]
            weights[start + j, : top.size] = vals[top]
    return peers, weights
