"""The Random Cut Forest model API: sample, build, score, attribute.

``Sampler`` takes the training rows as a stream (chunks), each tree keeping its own reservoir
sample; ``Sampler.build`` cuts every tree over its sample; ``RandomCutForest.score`` gives one
anomaly score per row (higher = more anomalous, SageMaker RCF's scale) and
``RandomCutForest.attribution`` splits each score over the features, above and below what the
trees saw (the parts sum to the score), which is what a finding explains itself with.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lakewatch.model.rcf import kernels
from lakewatch.model.rcf.hyperparameters import RcfHyperparameters

ARRAYS = ("roots", "tree_mass", "left", "right", "dim", "value", "mass", "lo", "hi")


@dataclass
class Attribution:
    """Per row and feature, the share of the score from lying above (``high``) or below
    (``low``) the sampled data; ``high + low`` summed over features is the row's score."""

    high: np.ndarray  # (rows, feature_dim)
    low: np.ndarray

    @property
    def total(self) -> np.ndarray:
        return self.high + self.low


@dataclass
class RandomCutForest:
    """Trees in flat arrays (``kernels`` explains the layout); ``max_depth`` sizes the walk."""

    roots: np.ndarray  # (trees,) int64: each tree's root node
    tree_mass: np.ndarray  # (trees,) int64: points in each tree's sample
    left: np.ndarray  # (nodes,) int32, -1 at a leaf
    right: np.ndarray
    dim: np.ndarray  # (nodes,) int32: the cut's feature
    value: np.ndarray  # (nodes,) float32: the cut's value
    mass: np.ndarray  # (nodes,) int32
    lo: np.ndarray  # (nodes, feature_dim) float32: the node's bounding box
    hi: np.ndarray
    max_depth: int

    @property
    def feature_dim(self) -> int:
        return int(self.lo.shape[1])

    @property
    def num_trees(self) -> int:
        return int(self.roots.shape[0])

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in ARRAYS}

    def _rows(self, rows: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(rows, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.feature_dim:
            raise ValueError(
                f"expected rows of {self.feature_dim} features, got shape {tuple(x.shape)}"
            )
        return x

    def _args(self) -> tuple:
        return (self.roots, self.tree_mass, self.max_depth, *[getattr(self, n) for n in ARRAYS[2:]])

    def score(self, rows: np.ndarray) -> np.ndarray:
        """One anomaly score per row, float64: the mean over trees of AWS's scalar score."""
        x = self._rows(rows)
        out = np.empty(len(x), np.float64)
        if len(x):
            kernels.score_points(x, *self._args(), out)  # type: ignore[call-arg]
        return out

    def attribution(self, rows: np.ndarray) -> Attribution:
        """Each row's score split over features and directions (AWS's DiVector)."""
        x = self._rows(rows)
        out = np.zeros((len(x), 2 * self.feature_dim), np.float64)
        if len(x):
            kernels.attribute_points(x, *self._args(), out)  # type: ignore[call-arg]
        return Attribution(out[:, : self.feature_dim], out[:, self.feature_dim :])


class Sampler:
    """Each tree's reservoir over a stream of training rows, then the trees built from them."""

    def __init__(self, hp: RcfHyperparameters, seed: int = 0):
        self.hp = hp
        self.seed = seed
        self.seen = 0
        shape = (hp.num_trees, hp.num_samples_per_tree, hp.feature_dim)
        self.reservoirs = np.zeros(shape, np.float32)
        kernels.seed_sampler(seed)

    def add(self, rows: np.ndarray) -> None:
        """Offer rows (already checked finite) to every tree's reservoir."""
        chunk = np.ascontiguousarray(rows, dtype=np.float32)
        if chunk.ndim != 2 or chunk.shape[1] != self.hp.feature_dim:
            raise ValueError(f"expected rows of {self.hp.feature_dim} features")
        kernels.reservoir_update(chunk, self.seen, self.reservoirs)
        self.seen += len(chunk)

    def build(self) -> RandomCutForest:
        """Cut every tree over its sample (all of the data when it is smaller than a sample)."""
        if self.seen == 0:
            raise ValueError("no training rows")
        trees, size, d = self.reservoirs.shape
        kept = min(size, self.seen)
        per_tree = 2 * size - 1
        nodes = trees * per_tree
        left = np.full(nodes, -1, np.int32)
        right = np.full(nodes, -1, np.int32)
        dim = np.zeros(nodes, np.int32)
        value = np.zeros(nodes, np.float32)
        mass = np.zeros(nodes, np.int32)
        lo = np.zeros((nodes, d), np.float32)
        hi = np.zeros((nodes, d), np.float32)
        roots = np.arange(trees, dtype=np.int64) * per_tree
        deepest = 0
        for t in range(trees):
            depth = kernels.build_tree(
                self.reservoirs[t, :kept],
                self.seed * 1_000_003 + t + 1,
                int(roots[t]),
                left,
                right,
                dim,
                value,
                mass,
                lo,
                hi,
            )
            deepest = max(deepest, int(depth))
        return RandomCutForest(
            roots, np.full(trees, kept, np.int64), left, right, dim, value, mass, lo, hi, deepest
        )


def fit(rows: np.ndarray, hp: RcfHyperparameters, seed: int = 0) -> RandomCutForest:
    """A forest from rows in memory (the stream of one chunk)."""
    sampler = Sampler(hp, seed)
    sampler.add(rows)
    return sampler.build()
