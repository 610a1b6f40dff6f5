"""training.jobs: training and scoring jobs as lakewatch train and score run them:
SageMaker's script-mode environment, S3 input and output, the detector written beside the
model."""

import json
from pathlib import Path

import pytest

from lakewatch.cli import main
from lakewatch.model.artifact import ModelArtifact
from lakewatch.training.jobs import run_training


def test_script_mode_reads_sagemaker_environment(csvs, tmp_path, monkeypatch):
    train, val = csvs
    channel = tmp_path / "channel"
    channel.mkdir()
    (channel / "part.csv").write_text(Path(train).read_text())
    out = tmp_path / "opt-ml-model"
    monkeypatch.setenv("SM_CHANNEL_TRAIN", str(channel))
    monkeypatch.setenv("SM_CHANNEL_VALIDATION", val)
    monkeypatch.setenv("SM_MODEL_DIR", str(out))
    monkeypatch.setenv(
        "SM_HPS", json.dumps({"epochs": "1", "vector_dim": "8", "sagemaker_program": "train.py"})
    )
    lines = []
    stats = run_training(None, None, log=lines.append)
    # SageMaker tars SM_MODEL_DIR itself: script mode writes the plain files
    assert sorted(p.name for p in out.iterdir()) == [
        "detector.safetensors",
        "model.json",
        "model.safetensors",
    ]
    assert ModelArtifact.load(out).hp.vector_dim == 8
    # readable by the serving container, whoever it runs as (safetensors writes owner-only)
    assert {p.stat().st_mode & 0o777 for p in out.iterdir()} == {0o644}
    assert any(line.startswith("validation:discriminator_auc=") for line in lines)
    assert stats["train_pairs"] == 8000


def test_train_to_s3(csvs, aws, clients):
    settings, _ = aws
    train, _ = csvs
    stats = run_training(
        train,
        f"s3://{settings.results_bucket_name}/models/x",
        hp_items=["epochs=1", "vector_dim=8"],
        clients=clients,
        log=lambda s: None,
    )
    assert stats["artifact"] == f"s3://{settings.results_bucket_name}/models/x/model.tar.gz"
    body = (
        clients("s3")
        .get_object(Bucket=settings.results_bucket_name, Key="models/x/model.tar.gz")["Body"]
        .read()
    )
    assert ModelArtifact.load(body).hp.vector_dim == 8
    key = "models/x/detector.safetensors"
    detector = clients("s3").get_object(Bucket=settings.results_bucket_name, Key=key)
    assert detector["Body"].read(8)  # published beside the model


def test_a_failed_detector_publishes_neither_file(csvs, tmp_path, monkeypatch):
    """The model is written (and released) before the history is built; if the build fails,
    model_dir is not even created."""
    from lakewatch.model.history import History

    def broken(*args, **kwargs):
        raise MemoryError("history")

    written = []
    monkeypatch.setattr(History, "build", broken)
    monkeypatch.setattr(ModelArtifact, "start_saving", _spy(ModelArtifact.start_saving, written))
    out = tmp_path / "model"
    train, _ = csvs
    with pytest.raises(MemoryError):
        run_training(train, str(out), hp_items=["epochs=1", "vector_dim=8"], log=lambda s: None)
    assert written  # the model was written before the history was built
    assert not out.exists()


def _spy(save, calls):
    def wrapped(self, *args, **kwargs):
        calls.append(args)
        return save(self, *args, **kwargs)

    return wrapped


def test_train_with_detector_hands_the_model_over_and_keeps_no_copy(csvs):
    from lakewatch.model.data import read_pairs
    from lakewatch.model.fit import train_with_detector

    train, val = csvs
    handed = []
    trained = train_with_detector(
        read_pairs(train),
        read_pairs(val),
        {"epochs": "1", "vector_dim": "8"},
        log=lambda s: None,
        write_model=handed.append,
    )
    assert trained.artifact is None
    assert [a.ip_tokens.shape[1] for a in handed] == [8]
    assert trained.detector.meta["model"] == handed[0].meta["created"]


def test_cli_train_without_hp_writes_the_detector_and_score_detector_prints_it(
    csvs, tmp_path, capsys
):
    """The interface: train fills --model-dir with all the detector needs; --detector scores."""
    train, _ = csvs
    model_dir = tmp_path / "model"
    assert main(["train", "--train", train, "--model-dir", str(model_dir)]) == 0
    assert (model_dir / "detector.safetensors").exists()
    out = capsys.readouterr().out
    assert "no validation channel: holding out" in out and "detector weights" in out
    ents, ips = [], []
    for line in Path(train).read_text().splitlines()[:50]:
        e, a = line.split(",")
        ents.append(e)
        ips.append(a)
    score_in = tmp_path / "in.csv"
    score_in.write_text(
        "".join(f"{e},{a}\n" for e, a in zip(ents, ips, strict=True))
        + f"{ents[0]},203.0.113.77\n{ents[0]},not-an-ip\n"
    )
    assert main(["score", "--model-dir", str(model_dir), "--input", str(score_in)]) == 0
    dots = capsys.readouterr().out.splitlines()
    assert (
        main(["score", "--model-dir", str(model_dir), "--input", str(score_in), "--detector"]) == 0
    )
    combined = capsys.readouterr().out.splitlines()
    assert len(dots) == len(combined) == 52  # one per input line, in order
    assert combined[-1] == ""  # invalid address: no score
    assert combined != dots
    normal = [float(x) for x in combined[:50]]
    assert float(combined[50]) < min(normal)  # a never-seen documentation address


def test_the_trainer_is_imported_on_a_thread_while_the_csv_is_read(csvs, tmp_path, monkeypatch):
    """torch's import (1.4 s) overlaps the read: it is started before the pairs are read."""
    import lakewatch.training.jobs as jobs

    order = []
    monkeypatch.setattr(jobs, "_start_importing", lambda module: order.append(module))
    real = jobs.read_pairs
    monkeypatch.setattr(jobs, "read_pairs", lambda *a, **k: order.append("read") or real(*a, **k))
    run_training(csvs[0], str(tmp_path / "m"), csvs[1], ["epochs=1", "vector_dim=8"], log=print)
    assert order[:2] == [jobs.TRAINER_MODULE, "read"]


def test_start_importing_imports_on_another_thread(tmp_path, monkeypatch):
    import sys
    import threading

    from lakewatch.training.jobs import _start_importing

    (tmp_path / "lw_probe_module.py").write_text(
        "import threading\nTHREAD = threading.current_thread().name\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "lw_probe_module", raising=False)
    _start_importing("lw_probe_module")
    for t in threading.enumerate():
        if t.name == "import-lw_probe_module":
            t.join(10)
    import lw_probe_module  # waits on the import lock if the thread is still at it

    assert lw_probe_module.THREAD == "import-lw_probe_module"
