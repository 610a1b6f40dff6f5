"""The Random Cut Forest model API: sample, build, score, attribute.

``Sampler`` takes the training rows as a stream (chunks), each tree keeping its own reservoir
sample; ``Sampler.build`` cuts every tree over its sample; ``RandomCutForest.score`` gives one
anomaly score per row (higher = more anomalous, SageMaker RCF's scale) and
``RandomCutForest.attribution`` splits each score over the features, above and below what the
trees saw (the parts sum to the score), which is what a finding explains itself with.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numba
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


@dataclass(frozen=True)
class ScoringLayout:
    """The trees again, laid out for scoring (``kernels`` says how): derived from a forest's
    arrays once, on its first score, and kept beside them (4.8 MB for 100 trees of 256 samples
    and 12 features, whose arrays take 5.9 MB). A score call adds only its output and, per
    thread, one block of padded rows (``kernels.MAX_BLOCK`` x padded features)."""

    tree_mass: np.ndarray  # (trees,) int64
    tree_depth: np.ndarray  # (trees,) int64: each tree's deepest leaf
    children: np.ndarray  # (2 * nodes,) uint32: left, right by local id; a leaf its own child
    ndim: np.ndarray  # (nodes,) uint32
    nvalue: np.ndarray  # (nodes,) float32, +inf at a leaf
    parent: np.ndarray  # (nodes,) uint32, local ids
    depth: np.ndarray  # (nodes,) uint32
    leaf_src: np.ndarray  # (trees * samples,) uint32: a leaf's node in the forest's arrays
    ibox: np.ndarray  # (trees * (samples - 1), 2, padded features) float32: lo, hi
    width: np.ndarray  # (trees * (samples - 1),) float64: each box's range sum
    inverse: np.ndarray  # (deepest + 1,) float64: 1/(k+1)

    def args(self) -> tuple:
        return (
            self.tree_mass,
            self.tree_depth,
            self.children,
            self.ndim,
            self.nvalue,
            self.parent,
            self.depth,
            self.leaf_src,
        )


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
    _scoring: ScoringLayout | None = field(default=None, init=False, repr=False, compare=False)

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

    def scoring(self) -> ScoringLayout:
        """The scoring layout, built on first use; raises ValueError for trees that do not
        hold together (a damaged model)."""
        if self._scoring is None:
            self._scoring = _scoring_layout(self)
        return self._scoring

    def score(self, rows: np.ndarray) -> np.ndarray:
        """One anomaly score per row, float64: the mean over trees of AWS's scalar score."""
        x = self._rows(rows)
        out = np.empty(len(x), np.float64)
        if len(x):
            layout = self.scoring()
            kernels.score_points(  # type: ignore[call-arg]
                x,
                _block(len(x)),
                *layout.args(),
                self.lo,
                self.mass,
                layout.ibox,
                layout.width,
                layout.inverse,
                out,
            )
        return out

    def attribution(self, rows: np.ndarray) -> Attribution:
        """Each row's score split over features and directions (AWS's DiVector)."""
        x = self._rows(rows)
        out = np.zeros((len(x), 2 * self.feature_dim), np.float64)
        if len(x):
            kernels.attribute_points(x, *self._args(), out)  # type: ignore[call-arg]
        return Attribution(out[:, : self.feature_dim], out[:, self.feature_dim :])


def _block(rows: int) -> int:
    """Rows a thread scores against each tree in turn: at least two blocks a thread (so the
    threads finish together), each as large as ``kernels.MAX_BLOCK`` allows (a tree's nodes
    are read once per block), a whole number of ``kernels.LANES``."""
    per_thread = -(-rows // (2 * numba.get_num_threads()))
    lanes = kernels.LANES
    return max(lanes, min(kernels.MAX_BLOCK, -(-per_thread // lanes) * lanes))


def _scoring_layout(forest: RandomCutForest) -> ScoringLayout:
    trees, nodes, d = forest.num_trees, len(forest.left), forest.feature_dim
    if trees == 0 or nodes % trees or (nodes // trees) % 2 == 0:
        raise ValueError(f"{nodes} nodes do not make {trees} trees of 2s - 1 nodes")
    inner = nodes // trees // 2
    children = np.zeros(2 * nodes, np.uint32)
    ndim = np.zeros(nodes, np.uint32)
    nvalue = np.zeros(nodes, np.float32)
    parent = np.zeros(nodes, np.uint32)
    depth = np.zeros(nodes, np.uint32)
    leaf_src = np.zeros(trees * (inner + 1), np.uint32)
    ibox = np.zeros((trees * inner, 2, kernels.padded(d)), np.float32)
    width = np.zeros(trees * inner, np.float64)
    tree_depth = np.zeros(trees, np.int64)
    bad = kernels.scoring_layout(
        forest.roots.astype(np.int64),
        forest.left,
        forest.dim,
        forest.value,
        forest.lo,
        forest.hi,
        children,
        ndim,
        nvalue,
        parent,
        depth,
        leaf_src,
        ibox,
        width,
        tree_depth,
    )
    if bad:
        raise ValueError(f"tree {bad - 1} is not a binary tree within its own nodes")
    inverse = 1.0 / np.arange(1, int(tree_depth.max(initial=0)) + 2, dtype=np.float64)
    return ScoringLayout(
        np.ascontiguousarray(forest.tree_mass, np.int64),
        tree_depth,
        children,
        ndim,
        nvalue,
        parent,
        depth,
        leaf_src,
        ibox,
        width,
        inverse,
    )


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
