"""The prefix-frequency baseline IP Insights is measured against.

Score of (entity, address): how often the entity was seen in training with an address in the
same /24, /16 and /8, combined as ``4 log(1+n24) + 2 log(1+n16) + log(1+n8)``. Higher is more
expected, like the model's dot product. IPv4 only; other addresses score as never seen.
"""

from __future__ import annotations

import numpy as np

from lakewatch.model.encoding import Addresses

_LEVELS = ((24, 4.0), (16, 2.0), (8, 1.0))


class PrefixFrequencyBaseline:
    def __init__(self, entity_hash: np.ndarray, addrs: Addresses):
        v4 = addrs.family == 4
        self.tables: list[tuple[np.ndarray, np.ndarray]] = []
        for bits, _ in _LEVELS:
            key = self._key(entity_hash[v4], addrs.lo[v4], bits)
            uniq, counts = np.unique(key, return_counts=True)
            self.tables.append((uniq, counts))

    @staticmethod
    def _key(entity_hash: np.ndarray, lo: np.ndarray, bits: int) -> np.ndarray:
        prefix = lo >> np.uint64(32 - bits)
        with np.errstate(over="ignore"):
            return (
                entity_hash * np.uint64(0x9E3779B97F4A7C15)
                ^ (prefix << np.uint64(8))
                ^ np.uint64(bits)
            )

    def score(self, entity_hash: np.ndarray, addrs: Addresses) -> np.ndarray:
        out = np.zeros(len(entity_hash), np.float64)
        v4 = addrs.family == 4
        for (bits, weight), (uniq, counts) in zip(_LEVELS, self.tables, strict=True):
            key = self._key(entity_hash, addrs.lo, bits)
            pos = np.minimum(np.searchsorted(uniq, key), max(len(uniq) - 1, 0))
            hit = (uniq[pos] == key) & v4 if len(uniq) else np.zeros(len(key), bool)
            n = np.where(hit, counts[pos] if len(uniq) else 0, 0)
            out += weight * np.log1p(n)
        return out
