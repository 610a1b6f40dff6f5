import io
import json
import tarfile

import numpy as np
import pytest
import torch

from lakewatch.model.artifact import ArtifactError, ModelArtifact
from lakewatch.model.encoding import entity_hashes, entity_rows, ip_tokens, parse_addresses
from lakewatch.model.inference import Inference


def test_tarball_is_laid_out_like_sagemakers(trained):
    _, model_dir = trained
    with tarfile.open(model_dir / "model.tar.gz") as tar:
        names = sorted(tar.getnames())
        meta = json.load(tar.extractfile("model.json"))
        weights = tar.extractfile("model.safetensors").read()
    assert names == ["model.json", "model.safetensors"]
    assert meta["format_version"] == 1 and meta["hyperparameters"]["vector_dim"] == 32
    assert meta["stats"]["epochs"] and "train_bad_rows" in meta["stats"]
    assert b"pickle" not in weights[:2000] and not weights.startswith(b"\x80")


def test_round_trip_scores_like_the_trained_network(trained, lake_pairs):
    result, model_dir = trained
    art = ModelArtifact.load(model_dir)
    ents, ips = lake_pairs[0][:200], lake_pairs[1][:200]
    got = Inference(art).score(ents, ips).dot_product
    hp = result.hp
    with torch.no_grad():
        want = result.model(
            torch.from_numpy(entity_rows(entity_hashes(ents), hp.num_entity_vectors)),
            torch.from_numpy(ip_tokens(parse_addresses(ips), hp.ip_hash_buckets)),
        ).numpy()
    assert np.allclose(got, want, atol=1e-5)


def test_plain_files_load_too(trained, tmp_path):
    _, model_dir = trained
    art = ModelArtifact.load(model_dir)
    art.save(tmp_path, tarball=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json", "model.safetensors"]
    assert ModelArtifact.load(tmp_path).hp == art.hp


def test_the_tarball_built_on_a_thread_is_the_one_save_writes(trained, tmp_path):
    _, model_dir = trained
    art = ModelArtifact.load(model_dir)
    art.save(tmp_path / "now")
    future = art.start_saving(tmp_path / "later")
    assert future.result() == tmp_path / "later" / "model.tar.gz"
    assert (tmp_path / "later" / "model.tar.gz").read_bytes() == (
        tmp_path / "now" / "model.tar.gz"
    ).read_bytes()
    assert sorted(p.name for p in (tmp_path / "later").iterdir()) == ["model.tar.gz"]


def test_a_failed_tarball_is_raised_to_whoever_waits(trained, tmp_path, monkeypatch):
    import lakewatch.model.artifact as artifact

    def broken(*args):
        raise OSError("disk full")

    monkeypatch.setattr(artifact, "write_tarball", broken)
    future = ModelArtifact.load(trained[1]).start_saving(tmp_path)
    with pytest.raises(OSError, match="disk full"):
        future.result()
    assert list(tmp_path.iterdir()) == []  # nothing half-written left behind


def test_the_tarball_stores_the_weights_without_deflating_them(trained):
    """Stored deflate blocks: gzip's reader reads it, and it is no smaller than what it holds
    (the deflated tarball was 85% of its contents: what stored saves is the CPU)."""
    import gzip
    import subprocess

    path = trained[1] / "model.tar.gz"
    body = path.read_bytes()
    inner = gzip.decompress(body)
    assert len(body) > len(inner) > 0
    assert body[:2] == b"\x1f\x8b" and body[3] == 0 and body[4:8] == b"\0\0\0\0"  # no name, time
    assert subprocess.run(["gzip", "-t", str(path)], check=False).returncode == 0


def test_saving_returns_before_the_weights_are_written(trained, tmp_path, monkeypatch):
    import threading

    import lakewatch.model.artifact as artifact

    go, written = threading.Event(), []
    real = artifact.write_tensors

    def slow(path, tensors, metadata=None):
        assert go.wait(10)
        written.append(sorted(tensors))
        return real(path, tensors, metadata)

    monkeypatch.setattr(artifact, "write_tensors", slow)
    art = ModelArtifact.load(trained[1])
    future = art.start_saving(tmp_path)
    assert not future.done() and written == []  # the caller goes on meanwhile
    go.set()
    assert future.result(10) == tmp_path / "model.tar.gz"
    assert written == [sorted(art.tensors())]
    assert ModelArtifact.load(tmp_path).hp == art.hp


def test_a_failed_weights_file_is_raised_to_whoever_waits(trained, tmp_path, monkeypatch):
    import lakewatch.model.artifact as artifact

    def broken(*args, **kwargs):
        raise OSError("no space left on device")

    monkeypatch.setattr(artifact, "write_tensors", broken)
    future = ModelArtifact.load(trained[1]).start_saving(tmp_path)
    with pytest.raises(OSError, match="no space left"):
        future.result(10)
    assert list(tmp_path.iterdir()) == []


def test_unknown_entities_are_flagged(trained, lake_pairs):
    _, model_dir = trained
    scores = Inference(ModelArtifact.load(model_dir)).score(
        [lake_pairs[0][0], "i-never-seen"], ["10.0.0.1", "10.0.0.1"]
    )
    assert scores.known_entity.tolist() == [True, False]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda m: m.update(format="other"), "not a lakewatch-ipinsights model"),
        (lambda m: m.update(format_version=99), "format version 99 is not supported"),
        (lambda m: m["hyperparameters"].update(vector_dim=7), "entity table is"),
    ],
)
def test_bad_artifacts_are_refused(trained, tmp_path, mutate, message):
    _, model_dir = trained
    with tarfile.open(model_dir / "model.tar.gz") as tar:
        files = {n: tar.extractfile(n).read() for n in tar.getnames()}
    meta = json.loads(files["model.json"])
    mutate(meta)
    files["model.json"] = json.dumps(meta).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, body in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    with pytest.raises(ArtifactError, match=message):
        ModelArtifact.load(buf.getvalue())


def test_missing_model(tmp_path):
    with pytest.raises(ArtifactError, match="no model at"):
        ModelArtifact.load(tmp_path / "nope")
    with pytest.raises(ArtifactError, match="not a model tarball"):
        ModelArtifact.load(b"not a tarball")


def test_an_artifact_given_as_bytes_is_named_not_printed_in_errors():
    """A tarball without the model's files, handed over as bytes (as the endpoint installs it):
    the error says what is missing and how big the artifact was, not its bytes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = b"x" * 5000
        info = tarfile.TarInfo("README")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    body = buf.getvalue()
    with pytest.raises(ArtifactError) as err:
        ModelArtifact.load(body)
    message = str(err.value)
    assert f"a {len(body):,}-byte artifact: expected" in message
    assert "b'" not in message and len(message) < 200
