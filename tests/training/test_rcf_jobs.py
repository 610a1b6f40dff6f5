"""Train from a headerless CSV (file or folder), publish beside and renamed; batch score one
score a line with skipped rows' lines left empty."""

import numpy as np
import pytest

from lakewatch.model.artifact import algorithm_of
from lakewatch.model.rcf.artifact import RcfArtifact
from lakewatch.model.rcf.data import FeatureRowError
from lakewatch.training.rcf_jobs import run_rcf_training, score_rcf_file
from tests.model.rcf.conftest import cloud  # noqa: F401  (a fixture)


@pytest.fixture
def features(tmp_path, cloud):  # noqa: F811
    train, normal, far = cloud
    folder = tmp_path / "train"
    folder.mkdir()
    for i, part in enumerate(np.array_split(train, 2)):
        np.savetxt(folder / f"part-{i}.csv", part, delimiter=",", fmt="%.6f")
    return folder, normal, far


def test_train_then_score(features, tmp_path):
    folder, normal, far = features
    stats = run_rcf_training(
        str(folder), str(tmp_path / "model"), ["num_trees=50"], log=lambda _: None
    )
    assert stats["rows"] == 4000
    assert algorithm_of(tmp_path / "model") == "rcf"
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == ["model.tar.gz"]
    score_in = tmp_path / "in.csv"
    rows = np.vstack([normal[:3], far[:1]])
    text = "\n".join(",".join(f"{v:.6f}" for v in r) for r in rows)
    score_in.write_text(text.replace("\n", "\n1,,2,3,4\n", 1) + "\n")
    messages = []
    skipped = score_rcf_file(
        str(tmp_path / "model"), str(score_in), str(tmp_path / "out"), log=messages.append
    )
    lines = (tmp_path / "out").read_text().splitlines()
    assert len(lines) == 5 and lines[1] == "" and skipped.rows == 1
    scores = [float(v) for v in lines if v]
    assert scores[-1] == max(scores)
    expected = RcfArtifact.load(tmp_path / "model").forest.score(rows)
    np.testing.assert_allclose(scores, expected)
    assert messages[0] == "skipped 1 row(s) with a missing or non-finite value"


def test_a_bad_training_row_fails_before_any_model(tmp_path):
    (tmp_path / "t.csv").write_text("1,2\n3,4\n5,nan\n")
    with pytest.raises(FeatureRowError, match=r"t\.csv line 3: value 2 is not finite"):
        run_rcf_training(str(tmp_path / "t.csv"), str(tmp_path / "model"), log=lambda _: None)
    assert not (tmp_path / "model").exists()
