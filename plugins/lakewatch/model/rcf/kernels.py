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
``x[dim] <= value``), ``mass`` (points below) and the bounding box (``lo``, ``hi``). That is
the model as built and saved, and what attribution walks.

Scoring walks a second layout of the same trees, derived once per model
(``scoring_layout``), because scoring is where the time goes (200,000 rows x 100 trees x
about 11 cuts down and 6 boxes up); each choice below was measured on the bench's forest:

- per tree, internal nodes first (breadth first, local ids ``0..s-2``), then leaves (from
  ``s - 1``); ``children[2 node], children[2 node + 1]`` the left and right child by local
  id, a leaf its own child (cut value +inf), so a point takes exactly ``tree_depth`` steps to
  its leaf with no branch to mispredict, and 8 points descend side by side (``LANES``), their
  loads overlapping; ``parent`` and ``depth`` per node replace the path buffer;
- node ids unsigned (``uint32`` arrays, ``uint64`` sums): numba indexes an unsigned integer
  without its negative-index fix-up, which was a third of the descent's instructions;
- bounding boxes of internal nodes only (a leaf's box is its point, needed only when the point
  lies in the parent's box, and then read from ``lo``), ``lo`` and ``hi`` side by side, padded
  to a multiple of 8 features with zeros (a padded feature adds 0 to the distance, and the
  distance is whole vector instructions), each box's range sum precomputed: a tree's boxes
  are 255 x 2 x 16 float32 (32 KiB, an L1 cache);
- rows in blocks of up to ``MAX_BLOCK``, each block scored tree by tree, so a tree's nodes
  are read once per block; blocks are spread over the threads.

Against the first layout (the path ``tests/model/rcf/reference.py`` keeps) the scores agree
to float rounding: a box's range sum is added in float64 here, in float32 there.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

BLOCK = 256  # points a thread attributes with one path buffer
LANES = 8  # points that descend a tree side by side
PAD = 8  # boxes and rows padded to a multiple of this many features
MAX_BLOCK = 4096  # rows a thread scores against each tree in turn


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


def padded(feature_dim: int) -> int:
    """The features a scoring box or row is padded to."""
    return -(-feature_dim // PAD) * PAD


@njit(cache=True)
def scoring_layout(
    roots,
    left,
    dim,
    value,
    lo,
    hi,
    children,
    ndim,
    nvalue,
    parent,
    depth,
    leaf_src,
    ibox,
    width,
    tree_depth,
):
    """Fill the scoring layout (module docstring) from the built trees; returns 0, or
    ``1 + t`` for the first tree ``t`` that is not a binary tree within its own nodes (a
    damaged artifact: node references outside the tree, shared or cyclic, a cut dimension
    out of range)."""
    trees, d = roots.shape[0], lo.shape[1]
    slots = ndim.shape[0] // trees  # 2s - 1 per tree
    inner = slots // 2  # s - 1 internal nodes at most; leaves from here
    order = np.empty(slots, np.int64)  # the tree's nodes, breadth first (original ids)
    local = np.empty(slots, np.int64)  # new local id, by original id - root
    seen = np.zeros(slots, np.bool_)
    for t in range(trees):
        root, base = roots[t], t * slots
        if root < 0 or root + slots > left.shape[0]:
            return 1 + t
        seen[:] = False
        seen[0] = True
        order[0] = root
        head, tail = 0, 1
        while head < tail:
            node = order[head]
            head += 1
            c = left[node]
            if c < 0:
                continue
            if c < root or c + 1 >= root + slots or dim[node] < 0 or dim[node] >= d:
                return 1 + t
            for j in range(2):
                if seen[c + j - root]:
                    return 1 + t
                seen[c + j - root] = True
                order[tail] = c + j
                tail += 1
        internal, leaves = 0, 0
        for i in range(tail):
            if left[order[i]] >= 0:
                local[order[i] - root] = internal
                internal += 1
            else:
                local[order[i] - root] = inner + leaves
                leaves += 1
        parent[base + local[0]] = 0  # the root has none; never read
        depth[base + local[0]] = 0
        deepest = 0
        for i in range(tail):  # breadth first: a parent before its children
            node = order[i]
            g = base + local[node - root]
            if left[node] >= 0:
                a, b = local[left[node] - root], local[left[node] + 1 - root]
                children[2 * g], children[2 * g + 1] = a, b
                ndim[g], nvalue[g] = dim[node], value[node]
                parent[base + a], parent[base + b] = g - base, g - base
                depth[base + a], depth[base + b] = depth[g] + 1, depth[g] + 1
                box = t * inner + (g - base)
                total = 0.0
                for k in range(d):
                    ibox[box, 0, k], ibox[box, 1, k] = lo[node, k], hi[node, k]
                    total += float(hi[node, k]) - float(lo[node, k])
                width[box] = total
            else:
                children[2 * g], children[2 * g + 1] = g - base, g - base
                ndim[g], nvalue[g] = 0, np.inf
                leaf_src[t * (inner + 1) + (g - base - inner)] = node
                deepest = max(deepest, depth[g])
        tree_depth[t] = deepest
    return 0


@njit(cache=True, inline="always")
def _outside(rows, r, ibox, box, pad):
    """How far row ``r`` lies outside box ``box``, L1 over dimensions (padding adds 0)."""
    outside = np.float32(0.0)
    for k in range(pad):  # branch-free, whole vectors
        v = rows[r, k]
        outside += max(ibox[box, 0, k] - v, np.float32(0.0)) + max(
            v - ibox[box, 1, k], np.float32(0.0)
        )
    return float(outside)


@njit(cache=True, inline="always")
def _same(rows, r, lo, src, d):
    """Whether row ``r`` is node ``src``'s point (a leaf's box is its point)."""
    for k in range(d):  # noqa: SIM110
        if rows[r, k] != lo[src, k]:
            return False
    return True


@njit(parallel=True, cache=True, fastmath=True, error_model="numpy")
def score_points(
    x,
    block,
    tree_mass,
    tree_depth,
    children,
    ndim,
    nvalue,
    parent,
    depth,
    leaf_src,
    lo,
    mass,
    ibox,
    width,
    inverse,
    out,
):
    """``out[i]``: the forest's anomaly score of ``x[i]`` (the mean of its trees', each
    normalised by ``log2(tree mass + 1)``), over the scoring layout; ``inverse[k]`` is
    ``1/(k+1)``. Node ids are unsigned (``uint32`` arrays, ``uint64`` sums): numba then
    indexes without the negative-index fix-up, a third of the descent's instructions."""
    n, d = x.shape
    trees, pad = tree_mass.shape[0], ibox.shape[2]
    slots = children.shape[0] // (2 * trees)
    inner = slots // 2
    two, first_leaf = np.uint64(2), np.uint64(inner)
    for blk in prange((n + block - 1) // block):
        start = blk * block
        size = min(n, start + block) - start
        rows = np.zeros((block, pad), np.float32)  # the block, padded as the boxes are
        for r in range(size):
            for k in range(d):
                rows[r, k] = x[start + r, k]
        total = np.zeros(block)
        lane = np.empty(LANES, np.uint64)
        row_of = np.empty(LANES, np.uint64)
        for t in range(trees):
            base, boxes = np.uint64(t * slots), np.uint64(t * inner)
            points = np.uint64(t * (inner + 1))
            tm = float(tree_mass[t])
            scale = math.log2(tm + 1.0)
            for r0 in range(0, size, LANES):
                for j in range(LANES):  # a short last group repeats its last row
                    row_of[j] = np.uint64(min(r0 + j, size - 1))
                    lane[j] = np.uint64(0)
                for _ in range(tree_depth[t]):
                    for j in range(LANES):
                        g = base + lane[j]
                        right = np.uint64(rows[row_of[j], ndim[g]] > nvalue[g])
                        lane[j] = children[two * g + right]
                for j in range(min(LANES, size - r0)):
                    r = row_of[j]
                    leaf = lane[j]
                    level = np.int64(depth[base + leaf])
                    score = 1.0 / (level + 1.0)
                    node, outside = leaf, 0.0
                    if level > 0:  # the parent's box first: it holds the leaf's point
                        node = np.uint64(parent[base + leaf])
                        outside = _outside(rows, r, ibox, boxes + node, pad)
                    if outside == 0.0:  # within the parent's box: the point itself?
                        src = leaf_src[points + (leaf - first_leaf)]
                        if _same(rows, r, lo, src, d):
                            m = float(mass[src])
                            score = (1.0 - m / (2.0 * tm)) / (level + math.log2(m + 1.0))
                    else:
                        while True:  # up from the parent until a box holds the point
                            level -= 1
                            prob = outside / (width[boxes + node] + outside)
                            score = (1.0 - prob) * score + prob * inverse[np.uint64(level)]
                            if level == 0:
                                break
                            node = np.uint64(parent[base + node])
                            outside = _outside(rows, r, ibox, boxes + node, pad)
                            if outside == 0.0:
                                break
                    total[r] += scale * score
        for r in range(size):
            out[start + r] = total[r] / trees


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
