"""The forest against AWS's own Rust implementation (krcf): the same scores on the same data,
within what two independently drawn forests differ by; the attribution sums to the score and
points at the feature that is off."""

import krcf
import numpy as np
import pytest
from scipy.stats import spearmanr

from lakewatch.model.rcf.forest import Sampler, fit
from lakewatch.model.rcf.hyperparameters import RcfHyperparameters


def test_far_points_score_higher(forest, cloud):
    _, normal, far = cloud
    assert forest.score(far).mean() > 2 * forest.score(normal).mean()


def test_scores_agree_with_aws_rust_rcf(forest, cloud):
    train, normal, far = cloud
    reference = krcf.RandomCutForest(
        {
            "dimensions": 5,
            "shingle_size": 1,
            "num_trees": 50,
            "sample_size": 256,
            "output_after": 1,
            "random_seed": 11,
            "lambda": 0.0,  # a uniform reservoir, as SageMaker's batch training samples
        }
    )
    for row in train:
        reference.update(row)
    queries = np.vstack([normal, far])
    ours = forest.score(queries)
    theirs = np.array([reference.score(q) for q in queries])
    assert spearmanr(ours, theirs)[0] > 0.9
    for part in (slice(0, len(normal)), slice(len(normal), None)):
        assert ours[part].mean() == pytest.approx(theirs[part].mean(), rel=0.1)
    theirs_attr = reference.attribution(far[0])
    mine = forest.attribution(far[:1])
    assert np.argmax(mine.total[0]) == np.argmax(np.add(theirs_attr["high"], theirs_attr["low"]))


def test_attribution_sums_to_the_score_and_names_the_feature(forest, cloud):
    _, normal, _ = cloud
    rows = np.vstack([normal[:50], normal[:5] + np.array([0, 0, 9, 0, 0], np.float32)])
    parts = forest.attribution(rows)
    np.testing.assert_allclose(parts.total.sum(axis=1), forest.score(rows), rtol=1e-5)
    assert (np.argmax(parts.high[-5:], axis=1) == 2).all()  # above the data in feature 2
    assert parts.low[-5:, 2].max() < parts.high[-5:, 2].min()


def test_a_sampled_point_scores_low(forest, cloud):
    train, _, far = cloud
    assert forest.score(train[:200]).mean() < forest.score(far).mean()


def test_same_seed_same_forest_and_chunks_do_not_matter(cloud):
    train, normal, _ = cloud
    hp = RcfHyperparameters(feature_dim=5, num_trees=50)
    whole = fit(train, hp, seed=1)
    streamed = Sampler(hp, seed=1)
    for chunk in np.array_split(train, 7):
        streamed.add(chunk)
    again = streamed.build()
    np.testing.assert_array_equal(whole.score(normal), again.score(normal))


def test_reservoir_is_uniform_over_the_stream():
    hp = RcfHyperparameters(feature_dim=1, num_trees=200, num_samples_per_tree=10)
    sampler = Sampler(hp, seed=2)
    sampler.add(np.arange(1000, dtype=np.float32).reshape(-1, 1))
    sampled = sampler.reservoirs[:, :, 0]
    assert 350 < sampled.mean() < 650  # not the first rows only
    assert all(len(set(tree)) == 10 for tree in sampled)  # without replacement


def test_fewer_rows_than_a_sample_and_duplicates():
    hp = RcfHyperparameters(feature_dim=2, num_trees=50)
    rows = np.array([[1, 1]] * 30 + [[2, 3]] * 3, np.float32)
    forest = fit(rows, hp)
    assert (forest.tree_mass == 33).all()
    scores = forest.score(np.array([[1, 1], [2, 3], [40, -40]], np.float32))
    assert scores[0] < scores[1] < scores[2]
    assert np.isfinite(scores).all()


def test_wrong_width_is_refused(forest):
    with pytest.raises(ValueError, match="expected rows of 5 features"):
        forest.score(np.zeros((2, 4)))
    assert forest.score(np.zeros((0, 5))).shape == (0,)
