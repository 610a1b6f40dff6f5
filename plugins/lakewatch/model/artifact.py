"""The model artifact: ``model.tar.gz`` as SageMaker lays it out.

It holds ``model.safetensors`` (the weights and the hashes of known entities; never pickle) and
``model.json`` (format version, hyperparameters, the encoding's constants, training stats).
SageMaker script mode writes the two files into ``SM_MODEL_DIR`` and SageMaker tars them; run
locally, ``save`` writes the tarball itself. ``load`` reads either form.
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
import tempfile
import threading
import time
import zlib
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from safetensors.numpy import load as st_load

from lakewatch import __version__
from lakewatch.model.encoding import LEVELS, V4_BITS, V6_BITS
from lakewatch.model.files import write_atomic, write_tensors
from lakewatch.model.hyperparameters import Hyperparameters

FORMAT = "lakewatch-ipinsights"
FORMAT_VERSION = 1
WEIGHTS, META, TARBALL = "model.safetensors", "model.json", "model.tar.gz"
COPY_BUFFER = 4 << 20


class ArtifactError(ValueError):
    """A model artifact that cannot be used, and why."""


@dataclass
class ModelArtifact:
    hp: Hyperparameters
    entity: np.ndarray  # (num_entity_vectors, dim) float32
    ip_tokens: np.ndarray  # (ip_hash_buckets, dim) float32
    layers: list[tuple[np.ndarray, np.ndarray]]  # (weight (out, in), bias)
    known_entities: np.ndarray  # sorted uint64
    meta: dict[str, Any]

    @classmethod
    def from_training(cls, result) -> ModelArtifact:
        state = {k: v.detach().cpu().numpy() for k, v in result.model.state_dict().items()}
        layers = [
            (state[f"encoder.{i}.weight"], state[f"encoder.{i}.bias"])
            for i in range(len(result.model.encoder))
            if f"encoder.{i}.weight" in state
        ]
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "lakewatch_version": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "hyperparameters": result.hp.to_dict(),
            "encoding": {
                "entity_hash": "blake2b-64",
                "token_hash": "splitmix64",
                "levels": LEVELS,
                "ipv4_prefix_bits": list(V4_BITS),
                "ipv6_prefix_bits": list(V6_BITS),
            },
            "stats": result.stats.to_dict(),
        }
        return cls(
            result.hp,
            state["entity.weight"],
            state["ip_tokens.weight"],
            layers,
            result.known_entities.astype(np.uint64),
            meta,
        )

    # write ---------------------------------------------------------------------------------

    def tensors(self) -> dict[str, np.ndarray]:
        out = {
            "entity": self.entity,
            "ip_tokens": self.ip_tokens,
            "known_entities": self.known_entities,
        }
        for i, (w, b) in enumerate(self.layers):
            out[f"layer{i}.weight"], out[f"layer{i}.bias"] = w, b
        return out

    def save(self, model_dir: str | Path, tarball: bool = True) -> Path:
        """Write ``model.tar.gz`` (or, for SageMaker script mode, the plain files).

        Streamed through files (safetensors writes straight from the arrays): a copy of the
        tables in memory would be the largest allocation of a whole training run.
        """
        return self.start_saving(model_dir, tarball).result()

    def start_saving(self, model_dir: str | Path, tarball: bool = True) -> Future[Path]:
        """``save``, the weights written and compressed on a thread, which holds the arrays
        until their file is written; the future's ``result`` is the path ``save`` returns,
        once the tarball is in place. Writing and compressing the weights took 4.5 s of
        ``lakewatch train``'s fixed cost at 1.5M pairs; the detector's history is built
        meanwhile."""
        out = Path(model_dir)
        out.mkdir(parents=True, exist_ok=True)
        meta = json.dumps(self.meta, indent=2, sort_keys=True).encode()
        return start_saving_model_files(out, self.tensors(), meta, tarball)

    # read ----------------------------------------------------------------------------------

    @classmethod
    def load(cls, location: str | Path | bytes) -> ModelArtifact:
        """From a directory (``model.tar.gz`` or the plain files), a tarball path, or bytes."""
        files, where = read_model_files(location)
        try:
            meta = json.loads(files[META])
        except ValueError as err:
            raise ArtifactError(f"{where}: {META} is not JSON: {err}") from None
        if meta.get("format") != FORMAT:
            raise ArtifactError(f"{where}: not a {FORMAT} model (format={meta.get('format')!r})")
        if meta.get("format_version") != FORMAT_VERSION:
            raise ArtifactError(
                f"{where}: model format version {meta.get('format_version')} "
                f"is not supported (this lakewatch reads {FORMAT_VERSION})"
            )
        encoding = meta.get("encoding", {})
        if encoding.get("ipv4_prefix_bits") != list(V4_BITS):
            raise ArtifactError(
                f"{where}: the model encodes addresses by prefixes "
                f"{encoding.get('ipv4_prefix_bits')}, this lakewatch by {list(V4_BITS)}: retrain it"
            )
        tensors = st_load(files[WEIGHTS])
        hp = Hyperparameters(**meta["hyperparameters"])
        layers: list[Any] = []
        while f"layer{len(layers)}.weight" in tensors:
            i = len(layers)
            layers.append((tensors[f"layer{i}.weight"], tensors[f"layer{i}.bias"]))
        art = cls(
            hp, tensors["entity"], tensors["ip_tokens"], layers, tensors["known_entities"], meta
        )
        art._check()
        return art

    def _check(self) -> None:
        hp = self.hp
        if self.entity.shape != (hp.num_entity_vectors, hp.vector_dim):
            raise ArtifactError(
                f"entity table is {self.entity.shape}, hyperparameters say "
                f"({hp.num_entity_vectors}, {hp.vector_dim})"
            )
        if self.ip_tokens.shape != (hp.ip_hash_buckets, hp.vector_dim):
            raise ArtifactError(
                f"address table is {self.ip_tokens.shape}, hyperparameters say "
                f"({hp.ip_hash_buckets}, {hp.vector_dim})"
            )
        if len(self.layers) != hp.num_ip_encoder_layers:
            raise ArtifactError(
                f"{len(self.layers)} encoder layers, hyperparameters say {hp.num_ip_encoder_layers}"
            )

    @property
    def model_id(self) -> str:
        return str(self.meta.get("model_id") or self.meta.get("created", "unknown"))


class _Gzip:
    """A gzip stream of what is written, in stored (uncompressed) deflate blocks: trained
    float32 weights barely compress (the run-length strategy took 5.6 s of CPU for 593 MB and
    kept 85% of it; the default strategy 16 s for the same), and that CPU was the end of
    every training run: a stored stream is 17.6% larger and ``lakewatch train`` 3 s faster at
    1.5M pairs (docs/benchmarks.md); a server reads it without inflating. zlib writes the
    gzip header and CRC itself: no name, no timestamp. Any gzip reader reads it (SageMaker,
    tar, ``gzip``)."""

    def __init__(self, raw: BinaryIO):
        self.raw, self.written = raw, 0
        self.zip = zlib.compressobj(0, zlib.DEFLATED, 31)  # level 0: stored; 31: gzip framing

    def write(self, data: bytes) -> int:  # tarfile's writes (the GIL released while deflating)
        self.raw.write(self.zip.compress(data))
        self.written += len(data)
        return len(data)

    def tell(self) -> int:
        return self.written

    def finish(self) -> None:
        self.raw.write(self.zip.flush())


def write_tarball(part: Path, weights: Path, meta: bytes) -> Path:
    """``model.tar.gz`` of the weights file and ``model.json`` at ``part``; no timestamps in
    gzip's header or tar's, so the same model gives the same bytes (any algorithm's)."""
    with part.open("wb") as raw:
        gz = _Gzip(raw)
        # 4 MB a write, not tarfile's 16 KB: built on a thread beside the detector's fit,
        # each small write waited for the GIL
        with tarfile.open(fileobj=gz, mode="w", copybufsize=COPY_BUFFER) as tar:  # type: ignore[call-overload]
            for name, body in ((WEIGHTS, None), (META, meta)):
                info = tarfile.TarInfo(name)
                info.mtime, info.mode = 0, 0o644
                if body is None:
                    info.size = weights.stat().st_size
                    with weights.open("rb") as f:
                        tar.addfile(info, f)
                else:
                    info.size = len(body)
                    tar.addfile(info, io.BytesIO(body))
        gz.finish()
    return part


def read_model_files(location: str | Path | bytes) -> tuple[dict[str, bytes], object]:
    """(``model.json`` and the weights, how to name the location in errors), any algorithm's."""
    files = _read_files(location)
    # a tarball given as bytes is named, not printed, in errors
    where = f"a {len(location):,}-byte artifact" if isinstance(location, bytes) else location
    if META not in files or WEIGHTS not in files:
        raise ArtifactError(f"{where}: expected {META} and {WEIGHTS} in the artifact")
    return files, where


# model.json's "format" -> the algorithm it holds (IP Insights' predates the "algorithm" key)
ALGORITHMS = {FORMAT: "ipinsights", "lakewatch-rcf": "rcf"}


def algorithm_of(location: str | Path | bytes, default: str | None = None) -> str:
    """Which algorithm a model directory, tarball or tarball's bytes holds, from
    ``model.json``: ``score`` and ``serve`` pick their model by it. With ``default``, a
    location it cannot read gives ``default`` (whose own loading then says what is wrong)."""
    if default is not None:
        try:
            return algorithm_of(location)
        except (ArtifactError, OSError):
            return default
    files, where = read_model_files(location)
    try:
        fmt = json.loads(files[META]).get("format")
    except (ValueError, AttributeError) as err:
        raise ArtifactError(f"{where}: {META} is not a JSON object: {err}") from None
    if fmt not in ALGORITHMS:
        raise ArtifactError(f"{where}: not a lakewatch model (format={fmt!r})")
    return ALGORITHMS[fmt]


def _read_files(location: str | Path | bytes) -> dict[str, bytes]:
    if isinstance(location, bytes):
        return _untar(location, "<bytes>")
    path = Path(location)
    if path.is_dir():
        if (path / TARBALL).exists():
            return _untar((path / TARBALL).read_bytes(), str(path / TARBALL))
        return {n: (path / n).read_bytes() for n in (WEIGHTS, META) if (path / n).exists()}
    if path.is_file():
        return _untar(path.read_bytes(), str(path))
    raise ArtifactError(f"no model at {location} (expected a folder with {TARBALL})")


def _untar(body: bytes, name: str) -> dict[str, bytes]:
    try:
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:*") as tar:
            out = {}
            for member in tar.getmembers():
                base = member.name.lstrip("./")
                extracted = tar.extractfile(member) if member.isfile() else None
                if extracted is not None and base in (WEIGHTS, META):
                    out[base] = extracted.read()
            return out
    except tarfile.TarError as err:
        raise ArtifactError(f"{name}: not a model tarball: {err}") from None


def save_model_files(out: Path, tensors: dict, meta: bytes, tarball: bool) -> Path:
    """A model's weights and ``model.json`` into ``out``: as plain files (script mode), or as
    ``model.tar.gz`` built beside and renamed into place; returns what was written. Both
    algorithms' artifacts save this way."""
    return start_saving_model_files(out, tensors, meta, tarball).result()


def start_saving_model_files(out: Path, tensors: dict, meta: bytes, tarball: bool) -> Future[Path]:
    """``save_model_files`` with the weights file and the tarball written on a thread, which
    holds ``tensors`` until their file is written (safetensors writes without the GIL: 1 s
    of a training run's fixed cost at 1.5M pairs, beside the detector's history); as plain
    files (script mode), everything is written before it returns. The future's result is
    what was written, its exception what writing raised."""
    done: Future[Path] = Future()
    if not tarball:
        write_tensors(out / WEIGHTS, tensors)
        write_atomic(out / META, meta)
        done.set_result(out)
        return done
    tmp = Path(tempfile.mkdtemp(dir=out, prefix=".save-"))
    held = [tensors]  # released once written: the thread alone holds the tables then

    def finish() -> None:
        failed: BaseException | None = None
        try:
            weights = write_tensors(tmp / WEIGHTS, held.pop())
            write_tarball(tmp / TARBALL, weights, meta).replace(out / TARBALL)
        except BaseException as err:  # handed to whoever waits on the result
            failed = err
        shutil.rmtree(tmp, ignore_errors=True)  # before the result: nothing left once done
        if failed is None:
            done.set_result(out / TARBALL)
        else:
            done.set_exception(failed)

    threading.Thread(target=finish, name="model-tarball", daemon=True).start()
    return done
