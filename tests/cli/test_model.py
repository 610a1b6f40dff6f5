"""``lakewatch train | score | serve``: the commands as users and SageMaker's script mode call
them: hyperparameters as --hp or as script-mode arguments, clear errors with exit code 2, and
extra arguments accepted by train alone."""

import pytest

from lakewatch.cli import main
from lakewatch.model.artifact import ModelArtifact


def test_cli_train_then_score(csvs, tmp_path, capsys):
    train, _ = csvs
    model_dir = tmp_path / "model"
    assert (
        main(
            [
                "train",
                "--train",
                train,
                "--model-dir",
                str(model_dir),
                "--hp",
                "epochs=1",
                "--hp",
                "vector_dim=8",
            ]
        )
        == 0
    )
    assert (model_dir / "model.tar.gz").exists()
    score_in = tmp_path / "in.csv"
    score_in.write_text("i-x,10.0.0.1,extra-column\nonly-entity\ni-y,not-an-ip\ni-z,1.1.1.1\n")
    capsys.readouterr()
    assert main(["score", "--model-dir", str(model_dir), "--input", str(score_in)]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert len(lines) == 4  # one per input line, in order
    assert lines[1] == "" and lines[2] == ""
    float(lines[0]), float(lines[3])
    assert "in.csv:2: expected at least 2 columns, found 1" in captured.err
    assert "in.csv:3: invalid IP address" in captured.err


def test_script_mode_hyperparameters_as_arguments(csvs, tmp_path):
    train, _ = csvs
    model_dir = tmp_path / "m"
    assert (
        main(
            [
                "train",
                "--train",
                train,
                "--model-dir",
                str(model_dir),
                "--epochs",
                "1",
                "--vector-dim",
                "8",
            ]
        )
        == 0
    )
    assert ModelArtifact.load(model_dir).hp.vector_dim == 8


def test_bad_hyperparameter_is_a_clear_cli_error(csvs, tmp_path, capsys):
    train, _ = csvs
    rc = main(
        ["train", "--train", train, "--model-dir", str(tmp_path / "m"), "--hp", "vector_dim=2"]
    )
    assert rc == 2
    assert "vector_dim=2 is out of range" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_extra_arguments_are_refused_outside_train(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["score", "--model-dir", str(tmp_path), "--input", "x.csv", "--epochs", "1"])
    assert exit_.value.code == 2
    assert "unrecognized arguments: --epochs 1" in capsys.readouterr().err


def test_a_dangling_script_mode_argument_is_named(csvs, tmp_path, capsys):
    train, _ = csvs
    assert main(["train", "--train", train, "--model-dir", str(tmp_path / "m"), "--epochs"]) == 2
    assert "unexpected argument '--epochs'" in capsys.readouterr().err


def test_serve_defaults_to_loopback_on_sagemakers_port():
    from lakewatch.cli import build_parser

    args = build_parser().parse_args(["serve", "--model-dir", "m"])
    assert (args.host, args.port, args.endpoint_name) == ("127.0.0.1", 8080, None)


def test_cli_rcf_train_then_score(tmp_path, capsys):
    import numpy as np

    rows = np.random.default_rng(5).normal(size=(1000, 4))
    np.savetxt(tmp_path / "features.csv", rows, delimiter=",", fmt="%.5f")
    model_dir = tmp_path / "rcf"
    args = ["train", "--algorithm", "rcf", "--train", str(tmp_path / "features.csv")]
    assert main([*args, "--model-dir", str(model_dir), "--hp", "num_trees=50"]) == 0
    (tmp_path / "in.csv").write_text("0,0,0,0\n1,inf,0,0\n8,8,8,8\n")
    out = tmp_path / "scores.txt"
    capsys.readouterr()
    assert (
        main(
            [
                "score",
                "--model-dir",
                str(model_dir),
                "--input",
                str(tmp_path / "in.csv"),
                "--output",
                str(out),
            ]
        )
        == 0
    )
    lines = out.read_text().splitlines()
    assert lines[1] == "" and float(lines[2]) > float(lines[0])
    assert "skipped 1 row(s)" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,3,4\n1,2,,4\n")
    assert (
        main(
            [
                "train",
                "--algorithm",
                "rcf",
                "--train",
                str(bad),
                "--model-dir",
                str(tmp_path / "m2"),
            ]
        )
        == 2
    )
    assert "bad.csv line 2: value 3 is missing" in capsys.readouterr().err
