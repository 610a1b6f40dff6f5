"""Train from a headerless CSV (file or folder), publish beside and renamed; batch score one
score a line with skipped rows' lines left empty; the feature profile (standardization and
each instance's usual values) fitted on the window's rows, saved in the artifact and beside."""

import json

import numpy as np
import pyarrow.compute as pc
import pytest

from lakewatch.extract import rcf_features as rf
from lakewatch.model.artifact import algorithm_of
from lakewatch.model.rcf.artifact import RcfArtifact
from lakewatch.model.rcf.data import FeatureRowError
from lakewatch.training.rcf_jobs import prepare_training, run_rcf_training, score_rcf_file
from tests.model.rcf.conftest import cloud  # noqa: F401  (a fixture)
from tests.rcf_hours import normal_hours


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


def test_profile_holds_each_instances_median():
    rows = normal_hours(instances=3, hours=48)
    profile = rf.FeatureProfile.fit(rows)
    assert sorted(profile.hours.values()) == [48, 48, 48]
    name = rows["instance"][0].as_py()
    mine = rf.scale(rows.filter(pc.equal(rows["instance"], name)))
    assert np.allclose(profile.usual_of(name), np.median(mine, axis=0))
    # an instance the window never saw: the median over every training hour
    assert np.allclose(profile.usual_of("i-new"), np.median(rf.scale(rows), axis=0))
    i = rf.feature_names().index("flows_out")
    flows = [profile.usual[n][i] for n in sorted(profile.usual)]
    assert flows == sorted(flows) and flows[0] < flows[-1]  # the instances' own levels
    assert rf.FeatureProfile.from_dict(json.loads(json.dumps(profile.as_dict()))) == profile


def test_profile_refuses_another_width():
    data = rf.FeatureProfile.fit(normal_hours(2, 10)).as_dict()
    data["overall"] = data["overall"][:-1]
    with pytest.raises(ValueError, match="features wide"):
        rf.FeatureProfile.from_dict(data)


def test_raw_value_undoes_log1p():
    feature = rf.FEATURES[rf.feature_names().index("bytes_out")]
    assert rf.raw_value(feature, float(np.log1p(48e6))) == pytest.approx(48e6)
    share = rf.FEATURES[rf.feature_names().index("tcp_share")]
    assert rf.raw_value(share, 0.25) == 0.25


def test_trained_model_keeps_its_profile(tmp_path):
    rows = normal_hours(instances=3, hours=60)
    csv, profile = prepare_training(rows, tmp_path / "window")
    matrix = np.loadtxt(csv, delimiter=",")
    assert matrix.shape == (180, len(rf.FEATURES))
    assert np.allclose(matrix, profile.apply(rows), atol=1e-4)
    run_rcf_training(
        str(csv), str(tmp_path / "model"), ["num_trees=50"], profile=profile, log=lambda _: None
    )
    names = sorted(p.name for p in (tmp_path / "model").iterdir())
    assert names == [rf.FEATURES_FILE, "model.tar.gz"]
    beside = json.loads((tmp_path / "model" / rf.FEATURES_FILE).read_text())
    assert rf.FeatureProfile.from_dict(beside) == profile
    assert RcfArtifact.load(tmp_path / "model").profile == profile


def test_a_bare_csv_model_has_no_profile(tmp_path):
    np.savetxt(tmp_path / "t.csv", np.random.default_rng(0).normal(size=(300, 3)), delimiter=",")
    run_rcf_training(
        str(tmp_path / "t.csv"), str(tmp_path / "m"), ["num_trees=50"], log=lambda _: None
    )
    assert RcfArtifact.load(tmp_path / "m").profile is None


def test_a_profile_of_another_width_is_refused(tmp_path):
    np.savetxt(tmp_path / "t.csv", np.random.default_rng(0).normal(size=(300, 3)), delimiter=",")
    profile = rf.FeatureProfile.fit(normal_hours(2, 10))
    with pytest.raises(ValueError, match="features wide"):
        run_rcf_training(
            str(tmp_path / "t.csv"), str(tmp_path / "m"), profile=profile, log=lambda _: None
        )
