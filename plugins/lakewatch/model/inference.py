"""Inference in numpy: dot products (and embeddings) for (entity, address) pairs.

Distinct entities and addresses are embedded once per call; the pair dot products then run in
cache-sized chunks. No torch import: the model server and the scorer start fast.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from lakewatch.model.artifact import ModelArtifact
from lakewatch.model.encoding import (
    Addresses,
    EntityHashCache,
    entity_hashes,
    entity_rows,
    ip_tokens,
    parse_addresses,
)

CHUNK = 32_768


@dataclass
class Scores:
    dot_product: np.ndarray  # float32, nan where the address is invalid
    known_entity: np.ndarray  # bool
    valid: np.ndarray  # bool: the address parsed
    entity_embedding: np.ndarray | None = None
    ip_embedding: np.ndarray | None = None


class Inference:
    def __init__(self, artifact: ModelArtifact):
        self.art = artifact
        self.hp = artifact.hp

    def embed_addresses(self, addrs: Addresses) -> np.ndarray:
        """(n, dim) address embeddings: prefix tokens summed, then the encoder layers."""
        x = self.art.ip_tokens[ip_tokens(addrs, self.hp.ip_hash_buckets)].sum(axis=1)
        for i, (w, b) in enumerate(self.art.layers):
            x = x @ w.T + b
            if i < len(self.art.layers) - 1:
                np.maximum(x, 0, out=x)
        return x.astype(np.float32, copy=False)

    def _embed_distinct(self, addrs: Addresses) -> tuple[np.ndarray, np.ndarray]:
        """Embeddings of the distinct addresses, and each input's row among them."""
        if not (addrs.family == 6).any():  # IPv4 (and invalid) only: one 64-bit key
            key = addrs.lo | (addrs.family.astype(np.uint64) << np.uint64(32))
            u, inv = np.unique(key, return_inverse=True)
            distinct = Addresses(
                (u >> np.uint64(32)).astype(np.uint8), np.zeros_like(u), u & np.uint64(0xFFFFFFFF)
            )
        else:
            key = np.stack([addrs.family.astype(np.uint64), addrs.hi, addrs.lo], axis=1)
            u, inv = np.unique(key, axis=0, return_inverse=True)
            distinct = Addresses(u[:, 0].astype(np.uint8), u[:, 1], u[:, 2])
        return self.embed_addresses(distinct), inv.reshape(-1)

    def score(
        self,
        entities: pa.Array | list[str],
        addresses: pa.Array | list[str],
        embeddings: bool = False,
        known: EntityHashCache | None = None,
    ) -> Scores:
        """Score pairs as text; ``known``: entity hashes kept between calls (the model
        server's)."""
        hashes = entity_hashes(entities) if known is None else known.hashes(entities)
        addrs = parse_addresses(addresses)
        return self.score_parsed(hashes, addrs, embeddings)

    def score_parsed(
        self, hashes: np.ndarray, addrs: Addresses, embeddings: bool = False
    ) -> Scores:
        n = len(hashes)
        valid = addrs.valid
        known = np.zeros(n, bool)
        if self.art.known_entities.size:
            pos = np.searchsorted(self.art.known_entities, hashes)
            pos = np.minimum(pos, self.art.known_entities.size - 1)
            known = self.art.known_entities[pos] == hashes
        ent_u, ent_inv = np.unique(
            entity_rows(hashes, self.hp.num_entity_vectors), return_inverse=True
        )
        ent_vec = self.art.entity[ent_u]
        if len(self.art.layers) <= 1 and not embeddings:
            dots = self._linear_dots(ent_vec, ent_inv, addrs)
            ip_vec = addr_inv = None
        else:
            # per call, never on self: the model server scores from many threads at once
            ip_vec, addr_inv = self._embed_distinct(addrs)
            dots = self._general_dots(ent_vec, ent_inv, ip_vec, addr_inv)
        dots[~valid] = np.nan
        out = Scores(dots, known, valid)
        if embeddings and ip_vec is not None and addr_inv is not None:
            out.entity_embedding = ent_vec[ent_inv]
            out.ip_embedding = ip_vec[addr_inv]
        return out

    def _linear_dots(
        self, ent_vec: np.ndarray, ent_inv: np.ndarray, addrs: Addresses
    ) -> np.ndarray:
        """One linear encoder layer (the default): e.(W x + b) = (W^T e).x + e.b, with x the
        sum of the address's token rows. W folds into the few entity vectors, so each pair
        costs a row gather per token level, or a lookup where a level has few distinct tokens.
        """
        if self.art.layers:
            w, b = self.art.layers[0]
            folded, offset = ent_vec @ w, ent_vec @ b
        else:
            folded, offset = ent_vec, np.zeros(len(ent_vec), np.float32)
        dots = offset[ent_inv].astype(np.float32)
        tokens = ip_tokens(addrs, self.hp.ip_hash_buckets)
        for level in range(tokens.shape[1]):
            tok_u, tok_inv = np.unique(tokens[:, level], return_inverse=True)
            if len(tok_u) * len(folded) <= 4_000_000:  # small: an entity x token table
                table = folded @ self.art.ip_tokens[tok_u].T
                dots += table[ent_inv, tok_inv]
                continue
            rows = self.art.ip_tokens
            col = tokens[:, level]
            for start in range(0, len(dots), CHUNK):
                sl = slice(start, start + CHUNK)
                dots[sl] += np.einsum("ij,ij->i", folded[ent_inv[sl]], rows[col[sl]])
        return dots

    @staticmethod
    def _general_dots(
        ent_vec: np.ndarray, ent_inv: np.ndarray, ip_vec: np.ndarray, addr_inv: np.ndarray
    ) -> np.ndarray:
        dots = np.empty(len(ent_inv), np.float32)
        for start in range(0, len(dots), CHUNK):
            sl = slice(start, start + CHUNK)
            dots[sl] = np.einsum("ij,ij->i", ent_vec[ent_inv[sl]], ip_vec[addr_inv[sl]])
        return dots
