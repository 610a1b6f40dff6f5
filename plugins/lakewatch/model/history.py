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

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from lakewatch.model.encoding import Addresses, _mix, concat_freeing

V4_LEVELS = (32, 24, 16, 8)
V6_LEVELS = (128, 64, 48, 32)
PEER_LEVEL = 1  # the /24 (IPv6 /64) defines and tests peer groups
PEERS = 10
MIN_STAND_IN = 0.3  # cosine of /24 sets: below it, a new entity has no group
PEER_CHUNK = 512  # rows of the entity similarity computed at once: bounded memory
# pairs whose keys the history's build sorts at once (``_PairBlocks``): its memory
BLOCK_ROWS = 1 << 21
MAX_BLOCK_BITS = 7  # at most 128 blocks a level (a byte a pair names its block)
_NO_BLOCK = 255
_HASH_ROWS = 1 << 18  # pairs whose keys are hashed at once to find their blocks
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
    """``values`` at ``query``'s place in the sorted ``keys``; 0 where absent.

    The queries are searched in sorted order: hashed keys in their own order send each
    binary search to another part of a table larger than the cache, sorted ones walk it
    once (half the time at 437,000 queries into 1.3M keys, the sort included)."""
    if keys.size == 0:
        return np.zeros(query.shape, values.dtype)
    order = np.argsort(query)
    ordered = query[order]
    pos = np.minimum(np.searchsorted(keys, ordered), keys.size - 1)
    out = np.empty(query.shape, values.dtype)
    out[order] = np.where(keys[pos] == ordered, values[pos], 0)
    return out


def _count(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    uniq, counts = np.unique(keys, return_counts=True)
    return uniq, counts.astype(np.uint32)


class _PairBlocks:
    """The valid pairs, split at each level into blocks by the top bits of their pair key
    (``pair_keys``), each block's pairs in their order. Counted a block at a time, the
    blocks' distinct keys end to end are every pair's distinct keys in order, each with the
    first pair that has it, exactly as one sort of them all; a block is about ``block_rows``
    pairs, and between blocks only a byte a pair (its block) is held. Fewer pairs than that
    are one block, counted as they are.

    A block is sorted ``block_rows`` pairs at a time: one over that size is one whose keys
    have many pairs (an instance and its /16 or /8: a key's pairs cannot be split between
    blocks), so each slice's distinct keys are few, and they are merged."""

    def __init__(self, entity_hash: np.ndarray, addrs: Addresses, block_rows: int):
        self.ent, self.addrs, self.chunk = entity_hash, addrs, max(block_rows, 1)
        self.bits = 0
        while len(entity_hash) > self.chunk << self.bits and self.bits < MAX_BLOCK_BITS:
            self.bits += 1
        self.seen: list[tuple[np.ndarray, np.ndarray]] = []  # each slice's entities, pairs

    def distinct(
        self, level: int, with_entities: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The sorted distinct pair keys at ``level``, their counts (uint32), and the prefix
        key (and, ``with_entities``, the entity) of each; the first call also counts each
        entity's pairs (``activity``)."""
        keys, counts, prefixes, ents = [], [], [], []
        count_entities = not self.seen
        for rows in self._blocks(level):
            k, c, p, e = self._block(level, rows, count_entities)
            keys.append(k)
            counts.append(c)
            prefixes.append(p)
            if with_entities:
                ents.append(e)
            del rows, k, c, p, e
        return (
            concat_freeing(keys, np.uint64),
            concat_freeing(counts, np.uint32),
            concat_freeing(prefixes, np.uint64),
            concat_freeing(ents, self.ent.dtype),
        )

    def activity(self) -> tuple[np.ndarray, np.ndarray]:
        """The sorted distinct entities and each one's valid pairs (uint32)."""
        entities, at = np.unique(
            concat_freeing([e for e, _ in self.seen], self.ent.dtype), return_inverse=True
        )
        activity = np.zeros(entities.size, np.int64)
        np.add.at(activity, at.reshape(-1), concat_freeing([c for _, c in self.seen], np.int64))
        return entities, activity.astype(np.uint32)

    def _block(
        self, level: int, rows: np.ndarray | None, count_entities: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """One block's sorted distinct keys, their counts, and the prefix and entity of the
        first pair of each (``rows``: the block's pairs; None: every pair, all valid)."""
        n = len(self.ent) if rows is None else len(rows)
        parts = []
        for lo in range(0, max(n, 1), self.chunk):
            if rows is None:
                at = slice(lo, lo + self.chunk)
                ent = self.ent[at]
                addrs = Addresses(self.addrs.family[at], self.addrs.hi[at], self.addrs.lo[at])
            else:
                take = rows[lo : lo + self.chunk]
                ent, addrs = self.ent[take], _take(self.addrs, take)
                del take
            pk = prefix_keys(addrs, level)
            k, first, c = np.unique(pair_keys(ent, pk), return_index=True, return_counts=True)
            parts.append((k, c, pk[first], ent[first]))
            if count_entities:
                self.seen.append(np.unique(ent, return_counts=True))
            del ent, addrs, pk, first
        if len(parts) == 1:
            k, c, p, e = parts[0]
            return k, c.astype(np.uint32), p, e
        # the slices in their order: a key's first pair is in the first slice that has it
        k, c, p, e = (np.concatenate(column) for column in zip(*parts, strict=True))
        del parts
        keys, first, slot = np.unique(k, return_index=True, return_inverse=True)
        counts = np.zeros(keys.size, np.int64)
        np.add.at(counts, slot.reshape(-1), c)
        return keys, counts.astype(np.uint32), p[first], e[first]

    def _blocks(self, level: int) -> Iterator[np.ndarray | None]:
        """Each block's pairs (their rows), in key order."""
        ent, addrs = self.ent, self.addrs
        if not self.bits:
            valid = addrs.valid
            yield None if valid.all() else np.flatnonzero(valid)
            return
        block = np.empty(len(ent), np.uint8)
        shift = np.uint64(64 - self.bits)
        for lo in range(0, len(ent), _HASH_ROWS):
            at = slice(lo, lo + _HASH_ROWS)
            part = Addresses(addrs.family[at], addrs.hi[at], addrs.lo[at])
            block[at] = pair_keys(ent[at], prefix_keys(part, level)) >> shift
            block[at][part.family == 0] = _NO_BLOCK  # an invalid address: in no block
            del part
        for b in range(1 << self.bits):
            yield np.flatnonzero(block == b)


def _take(addrs: Addresses, rows: np.ndarray) -> Addresses:
    """``addrs.take(rows)``, IPv4's upper halves left as the one zero ``read_pairs`` holds
    them as (a view of no bytes: taken, they were 8 bytes a pair)."""
    hi = addrs.hi[: len(rows)] if addrs.hi.strides == (0,) else addrs.hi[rows]
    return Addresses(addrs.family[rows], hi, addrs.lo[rows])


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
    # Who uses each /24 of at most half the entities (``GroupIndex``): what finds a new
    # entity's group
    groups: GroupIndex | None = None
    names: EntityNames | None = None  # the entities' names, when training read them

    @classmethod
    def build(
        cls,
        entity_hash: np.ndarray,
        addrs: Addresses,
        peers: int = PEERS,
        max_shared: int = 0,
        names: dict[str, int] | None = None,
        block_rows: int = BLOCK_ROWS,
    ) -> History:
        """The history of these pairs (invalid addresses left out).

        Each level's (entity, prefix) pair keys are sorted a block at a time: the pairs whose
        key starts with the same few bits, in their order (``_PairBlocks``), so the blocks'
        distinct keys, put end to end, are the whole sorted distinct keys, and no more than
        ``block_rows`` pairs' keys, prefixes and sort index are held at once (every pair's
        were, with an index beside them: the build was the large lake's peak, 3.36 GB at
        34.7M pairs; docs/benchmarks.md)."""
        ekeys, ecounts, gkeys, gcounts = [], [], [], []
        blocks = _PairBlocks(entity_hash, addrs, block_rows)
        peer_ent, peer_prefix = np.zeros(0, np.uint64), np.zeros(0, np.uint64)
        for level in range(len(V4_LEVELS)):
            keys, counts, prefix, ent = blocks.distinct(level, with_entities=level == PEER_LEVEL)
            ekeys.append(keys)
            ecounts.append(counts)
            # the prefix of each distinct pair, counted: distinct entities per prefix
            k, c = _count(prefix)
            gkeys.append(k)
            gcounts.append(c)
            if level == PEER_LEVEL:
                peer_ent, peer_prefix = ent, prefix
            del keys, counts, prefix, ent
        entities, activity = blocks.activity()
        del blocks
        peer_hash, peer_weight = _peer_groups(peer_ent, peer_prefix, entities, peers, max_shared)
        groups = GroupIndex.build(peer_ent, peer_prefix, entities, _group_cap(max_shared, entities))
        return cls(
            ekeys,
            ecounts,
            gkeys,
            gcounts,
            entities,
            activity,
            peer_hash,
            peer_weight,
            groups,
            EntityNames.build(names, entities) if names else None,
        )

    def stand_ins(
        self, entity_hash: np.ndarray, addrs: Addresses, min_similarity: float = MIN_STAND_IN
    ) -> tuple[np.ndarray, np.ndarray]:
        """For each pair whose entity the history does not know, the known entity whose /24s
        its pairs here resemble most (``GroupIndex.nearest``), and that similarity; 0 where
        none reaches ``min_similarity`` (and for known entities). A new instance of a known
        service uses its siblings' networks from its first hour: scored as its nearest
        sibling, its normal pairs are known ones, and what its siblings never do stands out."""
        out = np.zeros(len(entity_hash), np.uint64)
        sim = np.zeros(len(entity_hash), np.float32)
        strangers = ~self.known(entity_hash) & addrs.valid
        if self.groups is None or not strangers.any():
            return out, sim
        rows = np.flatnonzero(strangers)
        who, at = np.unique(entity_hash[rows], return_inverse=True)
        best, score = self.groups.nearest(
            at.reshape(-1), prefix_keys(addrs.take(rows), PEER_LEVEL), who.size
        )
        ok = score >= min_similarity
        proxy = np.where(ok, self.entities[np.maximum(best, 0)], np.uint64(0))
        out[rows], sim[rows] = proxy[at], np.where(ok, score, 0.0)[at]
        return out, sim

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
        # distinct entities with the prefix, for the /32, /24 and /16
        users = [
            _lookup(self.everyone_keys[level], self.everyone_counts[level], prefixes[level])
            for level in range(3)
        ]
        users_in_group = [(out[:, level] > 0).astype(np.float32) for level in (0, 1)]
        group_size = np.ones(n, np.float32)
        if self.peers.size:
            peer_hash = self.peers[pos]  # (n, k)
            k = peer_hash.shape[1]
            weight = np.where(known[:, None], self.peer_weights[pos], 0.0)
            total = np.maximum(weight.sum(axis=1), 1e-9)
            real = (peer_hash != 0) & known[:, None]
            group_size += real.sum(axis=1)
            slot = np.flatnonzero(real)
            for col, level in ((4, 0), (5, 1), (6, 2)):
                # a peer can have used the prefix only where someone besides the entity did:
                # only those slots are looked up (the lookups of every slot were most of the
                # detector's fit; at the /32 and /24 almost none are needed)
                others = users[level] > (out[:, level] > 0)
                ask = slot[others[slot // k]]
                query = pair_keys(peer_hash.reshape(-1)[ask], prefixes[level][ask // k])
                used = np.zeros(peer_hash.shape, bool)
                used.reshape(-1)[ask] = (
                    _lookup(self.entity_keys[level], self.entity_counts[level], query) > 0
                )
                out[:, col] = (weight * used).sum(axis=1) / total
                if level < 2:
                    users_in_group[level] += used.sum(axis=1)
        for col, level in ((7, 0), (8, 1)):
            out[:, col] = np.log1p(users[level])
            # of the prefix's users the entity's group could hold, the share it does, with a
            # uniform prior: low when other groups use the address and this one never did
            # (someone else's: lateral movement, another user's address), high when all who
            # could have are in the group, 1/2 when nobody used it (no evidence either way)
            room = np.minimum(users[level], group_size)
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
        if self.groups is not None:
            out.update(self.groups.tensors())
        if self.names is not None:
            out.update(self.names.tensors())
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
            GroupIndex.from_tensors(t),
            EntityNames.from_tensors(t),
        )


def _shared_cap(max_shared: int, entities: np.ndarray) -> int:
    """A /24 more entities than this use says nothing of groups (a shared dependency)."""
    return max_shared or max(20, int(0.05 * entities.size))


def _group_cap(max_shared: int, entities: np.ndarray) -> int:
    """The /24s a new entity's stand-in is found by (``GroupIndex``): those at most half the
    entities use, each weighed by its IDF. The peer groups' cap (``_shared_cap``) left out
    nearly every /24 of a fleet whose instances churn: over a 6-day window with a fifth of
    the instances replaced daily, the services' shared dependencies each had more users than
    it, and 8 of 12 new instances found no sibling at all (docs/detector.md)."""
    return max(_shared_cap(max_shared, entities), entities.size // 2)


@dataclass
class GroupIndex:
    """The informative /24s (used by 2..cap entities), each with its users and IDF weight,
    and each entity's norm over them: the peer similarity, computed for a new entity from
    its own pairs at scoring time."""

    prefixes: np.ndarray  # sorted /24 keys, one row per (prefix, user)
    rows: np.ndarray  # int32 entity row of each
    idf: np.ndarray  # float32 weight of the prefix
    norms: np.ndarray  # float32 per entity row

    @classmethod
    def build(
        cls, ent: np.ndarray, prefix: np.ndarray, entities: np.ndarray, cap: int
    ) -> GroupIndex:
        """``ent``, ``prefix``: the distinct (entity, /24) pairs."""
        _, c, df = np.unique(prefix, return_inverse=True, return_counts=True)
        c = c.reshape(-1)
        keep = (df[c] >= 2) & (df[c] <= cap)
        idf = np.log(max(entities.size, 1) / np.maximum(df[c[keep]], 1)).astype(np.float32)
        rows = np.searchsorted(entities, ent[keep]).astype(np.int32)
        order = np.argsort(prefix[keep], kind="stable")
        norms = np.sqrt(np.bincount(rows, weights=idf**2, minlength=entities.size))
        return cls(prefix[keep][order], rows[order], idf[order], norms.astype(np.float32))

    def nearest(self, who: np.ndarray, prefix: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """For ``n`` new entities with pairs (``who`` their number, ``prefix`` the /24 key),
        the entity row most similar to each (-1: none) and the cosine."""
        best, score = np.full(n, -1, np.int64), np.zeros(n, np.float32)
        pairs = np.unique(np.stack([who.astype(np.uint64), prefix]), axis=1)
        lo = np.searchsorted(self.prefixes, pairs[1], "left")
        hi = np.searchsorted(self.prefixes, pairs[1], "right")
        hits = hi - lo
        if not hits.sum():
            return best, score
        q = np.repeat(pairs[0].astype(np.int64), hits)
        at = np.arange(hits.sum()) - np.repeat(np.cumsum(hits) - hits - lo, hits)
        w = self.idf[at]
        # the new entity's norm over the informative /24s it used (each pair once)
        used = hits > 0
        weight = self.idf[lo[used]].astype(np.float64) ** 2
        qnorm = np.sqrt(np.bincount(pairs[0][used].astype(np.int64), weights=weight, minlength=n))
        cand, inv = np.unique(
            np.stack([q, self.rows[at].astype(np.int64)]), axis=1, return_inverse=True
        )
        dot = np.bincount(inv.reshape(-1), weights=w**2, minlength=cand.shape[1])
        cos = dot / np.maximum(qnorm[cand[0]] * self.norms[cand[1]], 1e-9)
        order = np.lexsort((-cos, cand[0]))
        top = order[np.r_[True, cand[0][order][1:] != cand[0][order][:-1]]]
        best[cand[0][top]], score[cand[0][top]] = cand[1][top], cos[top]
        return best, score

    def tensors(self) -> dict[str, np.ndarray]:
        return {
            "groups.prefixes": self.prefixes,
            "groups.rows": self.rows,
            "groups.idf": self.idf,
            "groups.norms": self.norms,
        }

    @classmethod
    def from_tensors(cls, t: dict[str, np.ndarray]) -> GroupIndex | None:
        if "groups.prefixes" not in t:  # a history written before new entities had groups
            return None
        return cls(t["groups.prefixes"], t["groups.rows"], t["groups.idf"], t["groups.norms"])


@dataclass
class EntityNames:
    """The known entities' names, in the history's row order, as one UTF-8 blob: a stand-in
    is sent to the model by name."""

    blob: np.ndarray  # uint8
    offsets: np.ndarray  # int64, n + 1

    @classmethod
    def build(cls, names: dict[str, int], entities: np.ndarray) -> EntityNames:
        by_hash = {h: name for name, h in names.items()}
        encoded = [by_hash.get(int(h), "").encode() for h in entities]
        offsets = np.zeros(len(encoded) + 1, np.int64)
        offsets[1:] = np.cumsum([len(e) for e in encoded])
        return cls(np.frombuffer(b"".join(encoded), np.uint8).copy(), offsets)

    def name(self, row: int) -> str:
        return bytes(self.blob[self.offsets[row] : self.offsets[row + 1]]).decode()

    def tensors(self) -> dict[str, np.ndarray]:
        return {"names.blob": self.blob, "names.offsets": self.offsets}

    @classmethod
    def from_tensors(cls, t: dict[str, np.ndarray]) -> EntityNames | None:
        if "names.offsets" not in t:
            return None
        return cls(t["names.blob"], t["names.offsets"])


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
    cap = _shared_cap(max_shared, entities)
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
        row = np.repeat(np.arange(sim.shape[0]), np.diff(sim.indptr))
        keep = sim.indices != start + row  # not the entity itself
        row, cols, vals = row[keep], sim.indices[keep], sim.data[keep]
        # each row's entries by similarity, ties in stored order (a stable sort per row), in
        # one sort for the block: a Python loop over the rows was 0.8 s at 55k entities
        order = np.lexsort((np.arange(row.size), -vals, row))
        row, cols, vals = row[order], cols[order], vals[order]
        rank = np.arange(row.size) - np.searchsorted(row, row)
        top = rank < k
        peers[start + row[top], rank[top]] = entities[cols[top]]
        weights[start + row[top], rank[top]] = vals[top]
    return peers, weights
