"""The scoring layout's scores against the path it replaced (``reference``): the same scores on
the same model and rows, whatever the batch, block or thread count; a damaged model is refused
when it is loaded, not read out of bounds."""

import numba
import numpy as np
import pytest

from lakewatch.model.artifact import ArtifactError
from lakewatch.model.rcf import kernels
from lakewatch.model.rcf.artifact import RcfArtifact
from lakewatch.model.rcf.forest import fit
from lakewatch.model.rcf.hyperparameters import RcfHyperparameters
from tests.model.rcf.reference import reference_scores

# The two paths sum a box's float32 ranges in different orders (float64 once, here): scores
# agree to about 1e-8 relative (measured at most 4e-8).
RTOL = 1e-6


def _queries(rng, train, d):
    return np.vstack(
        [
            rng.normal(size=(301, d)),  # near the data: short walks up
            train[:157],  # sampled points and their neighbours: the leaf's own point
            rng.normal(size=(67, d)) * 8,  # far: walks to the root
            train[:3] + np.float32(1e-3),  # just off a sampled point
        ]
    ).astype(np.float32)


def test_fast_path_scores_equal_the_previous_path_on_a_fixed_model(forest, cloud):
    train, normal, far = cloud
    rows = np.vstack([normal, far, train[:200], train[:5] + np.float32(0.01)])
    np.testing.assert_allclose(forest.score(rows), reference_scores(forest, rows), rtol=RTOL)


@pytest.mark.parametrize(
    ("d", "samples", "n_train"),
    [
        (1, 256, 2000),  # one feature, padded to 8
        (8, 256, 3000),  # exactly one vector
        (12, 256, 6000),  # the bench's width, padded to 16
        (17, 64, 3000),  # padded to 24
        (3, 16, 10),  # fewer rows than a sample
        (2, 1, 50),  # one-point trees: the root is a leaf
    ],
)
def test_fast_path_equals_the_previous_path_across_shapes(d, samples, n_train):
    rng = np.random.default_rng(d * 100 + samples)
    train = rng.normal(size=(n_train, d)).astype(np.float32)
    hp = RcfHyperparameters(feature_dim=d, num_trees=50, num_samples_per_tree=samples)
    model = fit(train, hp, seed=5)
    rows = _queries(rng, train, d)
    np.testing.assert_allclose(model.score(rows), reference_scores(model, rows), rtol=RTOL)


def test_duplicates_and_ties_score_as_before():
    rows = np.array([[1, 1]] * 30 + [[2, 3]] * 3 + [[1, 3]] * 2, np.float32)
    model = fit(rows, RcfHyperparameters(feature_dim=2, num_trees=50))
    queries = np.array([[1, 1], [2, 3], [1, 3], [1.5, 2], [40, -40], [1, 2]], np.float32)
    np.testing.assert_allclose(model.score(queries), reference_scores(model, queries), rtol=RTOL)


def test_a_row_scores_the_same_alone_in_any_block_and_thread_count(forest, cloud):
    _, normal, far = cloud
    rows = np.vstack([normal, far] * 20)  # 7,200 rows: several blocks per thread
    whole = forest.score(rows)
    alone = np.concatenate([forest.score(rows[i : i + 1]) for i in range(0, len(rows), 97)])
    np.testing.assert_array_equal(alone, whole[::97])
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        np.testing.assert_array_equal(forest.score(rows), whole)
    finally:
        numba.set_num_threads(threads)
    assert len(rows) > kernels.MAX_BLOCK


def test_a_damaged_tree_is_refused_at_load(forest, tmp_path):
    art = RcfArtifact.create(RcfHyperparameters(feature_dim=5, num_trees=50), forest, {"rows": 1})
    arrays = forest.arrays()
    left = arrays["left"].copy()
    tree = int(np.argmax(left[511:] >= 0)) + 511  # an internal node of tree 1
    left[tree] = 3  # points into tree 0
    damaged = type(forest)(**{**arrays, "left": left}, max_depth=forest.max_depth)
    RcfArtifact(art.hp, damaged, art.meta).save(tmp_path)
    with pytest.raises(ArtifactError, match="tree 1 is not a binary tree"):
        RcfArtifact.load(tmp_path)
    dim = arrays["dim"].copy()
    dim[int(np.argmax(arrays["left"] >= 0))] = 5  # a cut on a feature the model lacks
    damaged = type(forest)(**{**arrays, "dim": dim}, max_depth=forest.max_depth)
    with pytest.raises(ValueError, match="tree 0 is not a binary tree"):
        damaged.score(np.zeros((1, 5), np.float32))
