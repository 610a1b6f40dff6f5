"""The scoring path lakewatch's RCF had before the scoring layout (kernels' module docstring),
kept as the reference the fast path is checked against: each point walks the forest's own
arrays (``left``, ``dim``, ``value``, ``mass``, ``lo``, ``hi``) one at a time, down by the cuts
and back up by a path buffer, scoring each box from its ``lo`` and ``hi`` rows."""

import math

import numpy as np
from numba import njit


@njit(inline="always")
def _descend(x, root, left, dim, value, path):
    node, depth = root, 0
    while left[node] >= 0:
        path[depth] = node
        node = left[node] + (x[dim[node]] > value[node])  # the right child follows the left
        depth += 1
    path[depth] = node
    return depth


@njit(inline="always")
def _is_point(x, leaf, lo):
    for k in range(x.shape[0]):  # noqa: SIM110
        if x[k] != lo[leaf, k]:
            return False
    return True


@njit(inline="always")
def _separation(x, node, lo, hi):
    outside, width = np.float32(0.0), np.float32(0.0)
    for k in range(x.shape[0]):
        low, high, v = lo[node, k], hi[node, k], x[k]
        outside += max(low - v, np.float32(0.0)) + max(v - high, np.float32(0.0))
        width += high - low
    return float(outside), float(width)


@njit(inline="always")
def _tree_score(x, root, tree_mass, left, dim, value, mass, lo, hi, path):
    depth = _descend(x, root, left, dim, value, path)
    leaf = path[depth]
    m = float(mass[leaf])
    if _is_point(x, leaf, lo):
        damp = 1.0 - m / (2.0 * tree_mass)
        score = damp / (depth + math.log2(m + 1.0))
    else:
        score = 1.0 / (depth + 1.0)
        for level in range(depth - 1, -1, -1):
            outside, width = _separation(x, path[level], lo, hi)
            if outside == 0.0:
                break
            prob = outside / (width + outside)
            score = (1.0 - prob) * score + prob / (level + 1.0)
    return score


@njit(fastmath=True)
def _score_points(x, roots, tree_mass, max_depth, left, dim, value, mass, lo, hi, out):
    path = np.empty(max_depth + 1, np.int64)
    for i in range(x.shape[0]):
        total = 0.0
        for t in range(roots.shape[0]):  # trees in order, as the old kernel summed them
            scale = math.log2(tree_mass[t] + 1.0)
            total += scale * _tree_score(
                x[i], roots[t], tree_mass[t], left, dim, value, mass, lo, hi, path
            )
        out[i] = total / roots.shape[0]


def reference_scores(forest, rows: np.ndarray) -> np.ndarray:
    """The old path's scores of ``rows`` on ``forest`` (a ``RandomCutForest``)."""
    x = np.ascontiguousarray(rows, dtype=np.float32)
    out = np.empty(len(x), np.float64)
    _score_points(
        x,
        forest.roots,
        forest.tree_mass,
        forest.max_depth,
        forest.left,
        forest.dim,
        forest.value,
        forest.mass,
        forest.lo,
        forest.hi,
        out,
    )
    return out
