"""The RCF artifact: saved beside and renamed, byte-identical for the same model, the same
forest back, and recorded as RCF so score and serve pick it."""

import hashlib
import io
import tarfile

import numpy as np
import pytest

from lakewatch.model.artifact import ArtifactError, ModelArtifact, algorithm_of
from lakewatch.model.rcf.artifact import RcfArtifact
from lakewatch.model.rcf.hyperparameters import RcfHyperparameters


@pytest.fixture
def artifact(forest):
    art = RcfArtifact.create(RcfHyperparameters(feature_dim=5, num_trees=50), forest, {"rows": 1})
    art.meta["created"] = "2026-01-01T00:00:00Z"
    return art


def test_round_trip_scores_the_same(artifact, cloud, tmp_path):
    _, normal, _ = cloud
    path = artifact.save(tmp_path)
    assert path.name == "model.tar.gz" and sorted(p.name for p in tmp_path.iterdir()) == [
        "model.tar.gz"
    ]
    back = RcfArtifact.load(tmp_path)
    np.testing.assert_array_equal(back.forest.score(normal), artifact.forest.score(normal))
    assert back.hp == artifact.hp
    assert RcfArtifact.load(path.read_bytes()).forest.max_depth == artifact.forest.max_depth


def test_same_model_same_bytes_and_plain_files_for_script_mode(artifact, tmp_path):
    one = artifact.save(tmp_path / "a").read_bytes()
    two = artifact.save(tmp_path / "b").read_bytes()
    assert hashlib.sha256(one).digest() == hashlib.sha256(two).digest()
    with tarfile.open(fileobj=io.BytesIO(one)) as tar:
        assert tar.getnames() == ["model.safetensors", "model.json"]
    plain = artifact.save(tmp_path / "plain", tarball=False)
    assert sorted(p.name for p in plain.iterdir()) == ["model.json", "model.safetensors"]
    assert RcfArtifact.load(plain).hp.num_trees == 50


def test_algorithm_is_recorded_and_told_apart(artifact, tmp_path):
    artifact.save(tmp_path)
    assert algorithm_of(tmp_path) == "rcf"
    assert algorithm_of(tmp_path / "nothing-here", default="ipinsights") == "ipinsights"
    with pytest.raises(ArtifactError, match="not a lakewatch-ipinsights model"):
        ModelArtifact.load(tmp_path)


def test_a_mismatched_model_is_refused(artifact, tmp_path):
    artifact.meta["hyperparameters"]["num_trees"] = 60
    artifact.save(tmp_path)
    with pytest.raises(ArtifactError, match="50 trees of 5 features, hyperparameters say 60"):
        RcfArtifact.load(tmp_path)
