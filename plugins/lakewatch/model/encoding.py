"""Entities and addresses as the network sees them: hashed entity ids and prefix tokens.

Entities are hashed with BLAKE2b (stable across processes and machines) into
``num_entity_vectors`` buckets. An address becomes one token per prefix level, /8 and /32 for
IPv4 (/32 and /128 for IPv6), each hashed into ``ip_hash_buckets`` rows of one embedding table:
addresses that share a prefix share its row. The /8 token gives never-seen addresses a
meaningful embedding (whose part of the internet they are in); the /32 token carries what the
model learns about the address itself. Where a never-seen address sits inside ranges an entity
or its peers use is the history's evidence (``history.py``), not the encoder's.

Chosen on the login, fleet, drift and lake sets together (docs/detector.md): with the
detector, /8+/32 scored best or level on 6 of 8 set-kinds against /8+/16+/24+/32, /8+/24+/32
and /8+/16+/32; /16 and /24 tokens won only login (by 0.002-0.005 AUC) and cost the lake's
lateral movement and scans most, where services share subnets and a /24 token makes another
service's host look familiar.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

V4_BITS = (8, 32)
V6_BITS = (32, 128)
LEVELS = len(V4_BITS)
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_V4 = rf"^{_OCTET}(\.{_OCTET}){{3}}$"
_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


@dataclass
class Addresses:
    """Parsed addresses: family 4 or 6 (0 = invalid), and the 128-bit value as two halves."""

    family: np.ndarray  # uint8
    hi: np.ndarray  # uint64
    lo: np.ndarray  # uint64

    def __len__(self) -> int:
        return len(self.family)

    def take(self, index: np.ndarray) -> Addresses:
        return Addresses(self.family[index], self.hi[index], self.lo[index])

    @property
    def valid(self) -> np.ndarray:
        return self.family != 0


def ipv4_values(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Which texts are dotted quads written the one way (no leading zeros, no spaces), and
    their 32-bit values (uint64; 0 for any other text)."""
    is_v4 = pc.fill_null(pc.match_substring_regex(arr, _V4), False).to_numpy(zero_copy_only=False)
    values = np.zeros(len(arr), np.uint64)
    if is_v4.any():
        v4 = arr.filter(pa.array(is_v4))
        octets = pc.list_flatten(pc.split_pattern(v4, ".")).cast(pa.uint32()).to_numpy()
        octets = octets.reshape(-1, 4).astype(np.uint64)
        values[is_v4] = (
            (octets[:, 0] << 24) | (octets[:, 1] << 16) | (octets[:, 2] << 8) | octets[:, 3]
        )
    return is_v4, values


def parse_addresses(values: pa.Array | list[str], allow_ipv6: bool = True) -> Addresses:
    """Vectorised parse; IPv4 on a fast path, anything else through ``ipaddress``."""
    arr = pa.array(values, pa.string()) if not isinstance(values, pa.Array) else values
    arr = pc.utf8_trim_whitespace(arr.cast(pa.string()))
    n = len(arr)
    family = np.zeros(n, np.uint8)
    hi = np.zeros(n, np.uint64)
    is_v4, lo = ipv4_values(arr)
    family[is_v4] = 4
    if allow_ipv6:
        rest = np.flatnonzero(~is_v4)
        texts = arr.take(pa.array(rest)).to_pylist() if rest.size else []
        for i, text in zip(rest, texts, strict=True):
            if text and ":" in text:
                try:
                    value = int(ipaddress.IPv6Address(text))
                except ValueError:
                    continue
                family[i], hi[i], lo[i] = 6, value >> 64, value & ((1 << 64) - 1)
    return Addresses(family, hi, lo)


def format_addresses(addrs: Addresses) -> list[str]:
    out = []
    for f, h, low in zip(addrs.family, addrs.hi, addrs.lo, strict=True):
        if f == 4:
            out.append(str(ipaddress.IPv4Address(int(low))))
        elif f == 6:
            out.append(str(ipaddress.IPv6Address((int(h) << 64) | int(low))))
        else:
            out.append("")
    return out


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a fast, well-spread 64-bit hash of uint64 values (a new array;
    worked in place after the first step, so hashing n keys needs two arrays, not five)."""
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
        return x


def ip_tokens(addrs: Addresses, buckets: int) -> np.ndarray:
    """(n, LEVELS) int64 rows of the embedding table, one per prefix level."""
    n = len(addrs)
    out = np.empty((n, LEVELS), np.int64)
    v6 = addrs.family == 6
    for level in range(LEVELS):
        b4 = V4_BITS[level]
        key = (addrs.lo >> np.uint64(32 - b4)) if b4 < 32 else addrs.lo.copy()
        key = _mix(key ^ np.uint64(0x1000 + b4))
        if v6.any():
            bits = V6_BITS[level]
            if bits <= 64:
                h = addrs.hi[v6] >> np.uint64(64 - bits) if bits < 64 else addrs.hi[v6]
                k6 = _mix(h ^ np.uint64(0x6000 + bits))
            else:
                k6 = _mix(_mix(addrs.hi[v6] ^ np.uint64(0x6000 + bits)) ^ addrs.lo[v6])
            key[v6] = k6
        out[:, level] = (key % np.uint64(buckets)).astype(np.int64)
    return out


def random_addresses(
    rng: np.random.Generator, n: int, family: np.ndarray | None = None
) -> Addresses:
    """Uniformly random addresses: IPv4 over the whole space; IPv6 (where ``family`` says so)
    over global unicast 2000::/3."""
    lo = rng.integers(0, 2**32, n, dtype=np.uint64)
    fam = np.full(n, 4, np.uint8)
    hi = np.zeros(n, np.uint64)
    if family is not None and (family == 6).any():
        v6 = family == 6
        k = int(v6.sum())
        hi[v6] = rng.integers(0, 2**61, k, dtype=np.uint64) | np.uint64(1 << 61)
        lo[v6] = rng.integers(0, 2**63, k, dtype=np.uint64) * np.uint64(2)
        fam[v6] = 6
    return Addresses(fam, hi, lo)


def entity_hashes(
    entities: pa.Array | list[str], known: dict[str, int] | None = None
) -> np.ndarray:
    """Stable 64-bit hashes of entity strings (BLAKE2b); hashes each distinct value once.

    ``known``: hashes computed before (a long-running server's ``EntityHashCache``), read
    first and added to: BLAKE2b in Python was a quarter of a 1,000-pair request."""
    arr = pa.array(entities, pa.string()) if not isinstance(entities, pa.Array) else entities
    arr = pc.utf8_trim_whitespace(arr.cast(pa.string()))
    encoded = arr.dictionary_encode()
    uniques = encoded.dictionary.to_pylist()
    if known is None:
        values = [_entity_hash(u) for u in uniques]
    else:
        values = [known.get(u) or known.setdefault(u, _entity_hash(u)) for u in uniques]
    table = np.array(values, dtype=np.uint64)
    idx = encoded.indices.to_numpy(zero_copy_only=False)
    return table[idx] if len(uniques) else np.zeros(0, np.uint64)


def _entity_hash(entity: str | None) -> int:
    return int.from_bytes(
        hashlib.blake2b((entity or "").encode(), digest_size=8).digest(), "little"
    )


class EntityHashCache(dict):
    """Entity hashes a model server has computed, for the next requests (an account's
    instances recur in every request); emptied when it reaches ``limit`` entries, so memory
    stays bounded whatever the traffic."""

    def __init__(self, limit: int = 1_000_000):
        super().__init__()
        self.limit = limit

    def hashes(self, entities: pa.Array | list[str]) -> np.ndarray:
        if len(self) >= self.limit:
            self.clear()
        return entity_hashes(entities, self)


def distinct(values: np.ndarray) -> np.ndarray:
    """The sorted distinct values: sort-based, twice as fast as ``np.unique``'s hash table on
    millions of uint64 keys (start-up of a large training run)."""
    if values.size == 0:
        return values.copy()
    s = np.sort(values)
    return s[np.concatenate(([True], s[1:] != s[:-1]))]


def entity_rows(hashes: np.ndarray, num_entity_vectors: int) -> np.ndarray:
    return (hashes % np.uint64(num_entity_vectors)).astype(np.int64)


def concat_freeing(parts: list[np.ndarray], dtype: np.dtype | type) -> np.ndarray:
    """``np.concatenate(parts)`` as ``dtype``, each part released once copied, so the pieces
    and the whole are never held together (that doubled training's peak at 38M pairs, and the
    history's build); one part already of ``dtype`` is returned as it is. ``parts`` is emptied."""
    if len(parts) == 1 and parts[0].dtype == np.dtype(dtype):
        return parts.pop()
    out: np.ndarray = np.empty(sum(len(p) for p in parts), dtype)
    at = 0
    parts.reverse()
    while parts:
        part = parts.pop()
        out[at : at + len(part)] = part
        at += len(part)
        del part
    return out
