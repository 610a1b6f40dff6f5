"""The forest's compiled loops (numba): reservoir sampling, building trees, scoring, attribution.

Python calling a library once per point tops out near 15,000 points/s here (docs/rcf.md), a
tenth of what scoring needs; these loops run whole batches in machine code, points spread over
the cores. The arithmetic is AWS's (random_cut_forest's scalar score and attribution
visitors): a point descends by the cuts to a leaf; the leaf scores ``1/(depth+1)`` (or, when
it holds the point itself, ``damp * 1/(depth + log2(mass+1))``); on the way back up each
node mixes in ``1/(depth+1)`` with the probability that a random cut of the node's box, grown
to take the point, separates the point; a node whose box holds the point ends the walk. The
tree's score is that times ``log2(tree mass + 1)``; the forest's is the mean over trees.

Nodes of all trees live in flat arrays (tree ``t``'s nodes from ``t * (2s - 1)``): ``left`` and
``right`` (-1 at a leaf), the cut (``dim``, ``value``: a point goes left when
``x[dim] <= value``), ``mass`` (points below) and the bounding box (``lo``, ``hi``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

BLOCK = 256  # points a thread scores with one path buffer


@njit(cache=True)
def seed_sampler(seed: int) -> None:
    """Seed the generator the compiled sampler draws from (numba's own, not numpy's)."""
    np.random.seed(seed)


@njit(cache=True)
def reservoir_update(chunk, seen, reservoirs):
    """Algorithm R per tree over ``chunk``, rows ``seen..seen+len(chunk)`` of the stream.

    Every tree keeps its own uniform sample of the rows so far (SageMaker RCF samples per tree
    by reservoir), so memory stays ``trees x samples x features`` whatever the input's size.
    """
    trees, size, _ = reservoirs.shape
    for r in range(chunk.shape[0]):
        i = seen + r
        for t in range(trees):
            if i < size:
                reservoirs[t, i, :] = chunk[r]
            else:
                j = np.random.randint(0, i + 1)
                if j < size:
                    reservoirs[t, j, :] = chunk[r]


@njit(cache=True)
def _box(points, order, a, b, node, lo, hi):
    """The bounding box of ``points[order[a:b]]`` into ``lo[node]``, ``hi[node]``; its range sum."""
    d = points.shape[1]
    for k in range(d):
        lo[node, k] = points[order[a], k]
        hi[node, k] = points[order[a], k]
    for i in range(a + 1, b):
        p = order[i]
        for k in range(d):
            v = points[p, k]
            if v < lo[node, k]:
                lo[node, k] = v
            elif v > hi[node, k]:
                hi[node, k] = v
    total = 0.0
    for k in range(d):
        total += float(hi[node, k]) - float(lo[node, k])
    return total


@njit(cache=True)
def _cut(lo_row, hi_row, total):
    """A random cut of a box: the dimension with probability proportional to its range, the
    value uniform within it (AWS's ``randomCut``); a value rounding onto the top is moved to
    the bottom so both sides keep a point."""
    r = np.random.random() * total
    dim = -1
    for k in range(lo_row.shape[0]):
        width = float(hi_row[k]) - float(lo_row[k])
        if width > 0:
            dim = k  # the last with a range, should rounding carry r past the end
            if r < width:
                break
            r -= width
    value = np.float32(float(lo_row[dim]) + min(r, float(hi_row[dim]) - float(lo_row[dim])))
    if value >= hi_row[dim]:
        value = lo_row[dim]
    return dim, value


@njit(cache=True)
def _partition(points, order, a, b, dim, value):
    """Points with ``x[dim] <= value`` first; returns where the others start."""
    i, j = a, b - 1
    while i <= j:
        if points[order[i], dim] <= value:
            i += 1
        else:
            order[i], order[j] = order[j], order[i]
            j -= 1
    return i


@njit(cache=True)
def build_tree(points, seed, base, left, right, dim, value, mass, lo, hi):
    """One tree over its sample, top down; returns its deepest leaf's depth.

    Cutting the sample top down gives the same distribution of trees as inserting its points
    one by one (Guha et al. 2016, theorem 3), which is how AWS's library grows them.
    """
    np.random.seed(seed)
    n = points.shape[0]
    order = np.arange(n)
    stack = np.empty((2 * n, 4), np.int64)  # node, start, end, depth
    stack[0] = (base, 0, n, 0)
    top, used, deepest = 1, base + 1, 0
    while top > 0:
        top -= 1
        node, a, b, depth = stack[top]
        mass[node] = b - a
        total = _box(points, order, a, b, node, lo, hi)
        if total <= 0.0:  # one point, or duplicates of one: a leaf
            left[node], right[node] = -1, -1
            deepest = max(deepest, depth)
            continue
        k, v = _cut(lo[node], hi[node], total)
        mid = _partition(points, order, a, b, k, v)
        dim[node], value[node] = k, v
        left[node], right[node] = used, used + 1
        stack[top] = (used, a, mid, depth + 1)
        stack[top + 1] = (used + 1, mid, b, depth + 1)
        top += 2
        used += 2
    return deepest


@njit(cache=True, inline="always")
def _descend(x, root, left, right, dim, value, path):
    """The nodes from the root to the leaf ``x`` falls in; returns the leaf's depth."""
    node, depth = root, 0
    while left[node] >= 0:
        path[depth] = node
        node = left[node] + (x[dim[node]] > value[node])  # the right child follows the left
        depth += 1
    path[depth] = node
    return depth


@njit(cache=True, inline="always")
def _is_point(x, leaf, lo):
    """Whether ``x`` is the leaf's point (a leaf's box is its point); a loop, as numba wants."""
    for k in range(x.shape[0]):  # noqa: SIM110
        if x[k] != lo[leaf, k]:
            return False
    return True


@njit(cache=True, inline="always")
def _separation(x, node, lo, hi):
    """(how far ``x`` lies outside the node's box, the box's range sum), L1 over dimensions."""
    outside, width = np.float32(0.0), np.float32(0.0)
    for k in range(x.shape[0]):  # branch-free, so the compiler can use vector instructions
        low, high, v = lo[node, k], hi[node, k], x[k]
        outside += max(low - v, np.float32(0.0)) + max(v - high, np.float32(0.0))
        width += high - low
    return float(outside), float(width)


@njit(cache=True, inline="always")
def _tree_score(x, root, tree_mass, left, right, dim, value, mass, lo, hi, path):
    depth = _descend(x, root, left, right, dim, value, path)
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


@njit(parallel=True, cache=True, fastmath=True)
def score_points(x, roots, tree_mass, max_depth, left, right, dim, value, mass, lo, hi, out):
    """``out[i]``: the forest's anomaly score of ``x[i]`` (the mean of its trees', each
    normalised by ``log2(tree mass + 1)``)."""
    n, trees = x.shape[0], roots.shape[0]
    for block in prange((n + BLOCK - 1) // BLOCK):
        path = np.empty(max_depth + 1, np.int64)
        start, end = block * BLOCK, min(n, (block + 1) * BLOCK)
        out[start:end] = 0.0
        for t in range(trees):  # tree by tree: one tree's nodes stay in cache for the block
            scale = math.log2(tree_mass[t] + 1.0)
            for i in range(start, end):
                out[i] += scale * _tree_score(
                    x[i], roots[t], tree_mass[t], left, right, dim, value, mass, lo, hi, path
                )
        out[start:end] /= trees


@njit(cache=True, inline="always")
def _add_directions(x, node, lo, hi, weight, into):
    """Add ``weight x`` (how far ``x`` lies above / below the box in each dimension) to
    ``into`` (``[:d]`` above, ``[d:]`` below)."""
    d = x.shape[0]
    for k in range(d):
        v = float(x[k])
        if v > hi[node, k]:
            into[k] += weight * (v - float(hi[node, k]))
        elif v < lo[node, k]:
            into[d + k] += weight * (float(lo[node, k]) - v)


@njit(cache=True, inline="always")
def _tree_attribution(x, root, tree_mass, left, right, dim, value, mass, lo, hi, path, into):
    """Add this tree's score, split over dimensions and directions as AWS's attribution
    visitor splits it, to ``into``: the parts sum to the tree's score."""
    d = x.shape[0]
    depth = _descend(x, root, left, right, dim, value, path)
    leaf = path[depth]
    m = float(mass[leaf])
    scale = math.log2(tree_mass + 1.0)
    if _is_point(x, leaf, lo):  # a sampled point: nothing to single out, split evenly
        share = (1.0 - m / (2.0 * tree_mass)) / (depth + math.log2(m + 1.0)) * scale / (2 * d)
        into += share
        return
    parts = np.zeros(2 * d)
    outside, _ = _separation(x, leaf, lo, hi)
    _add_directions(x, leaf, lo, hi, 1.0 / (depth + 1.0) / outside, parts)
    for level in range(depth - 1, -1, -1):
        node = path[level]
        outside, width = _separation(x, node, lo, hi)
        if outside == 0.0:
            break
        parts *= 1.0 - outside / (width + outside)
        _add_directions(x, node, lo, hi, 1.0 / (level + 1.0) / (width + outside), parts)
    into += parts * scale


@njit(parallel=True, cache=True)
def attribute_points(x, roots, tree_mass, max_depth, left, right, dim, value, mass, lo, hi, out):
    """``out[i]``: ``x[i]``'s score split over ``[high_0..high_d-1, low_0..low_d-1]``."""
    n, trees = x.shape[0], roots.shape[0]
    for block in prange((n + BLOCK - 1) // BLOCK):
        path = np.empty(max_depth + 1, np.int64)
        start, end = block * BLOCK, min(n, (block + 1) * BLOCK)
        out[start:end] = 0.0
        for t in range(trees):  # tree by tree, as score_points
            for i in range(start, end):
                _tree_attribution(
                    x[i],
                    roots[t],
                    tree_mass[t],
                    left,
                    right,
                    dim,
                    value,
                    mass,
                    lo,
                    hi,
                    path,
                    out[i],
                )
        out[start:end] /= trees
