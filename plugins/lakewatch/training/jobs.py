"""The training job's entry points: train (locally or as a SageMaker script-mode job) and
batch score, around the model's fit (``model/fit.py``).

Script mode: when SageMaker runs the job, ``SM_CHANNEL_TRAIN``/``SM_CHANNEL_VALIDATION`` name
the input folders, ``SM_MODEL_DIR`` the output folder (SageMaker tars it into model.tar.gz), and
``/opt/ml/input/config/hyperparameters.json`` holds the hyperparameters as strings. Explicit
arguments win over all of these.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import shutil
import sys
import tempfile
import threading
from concurrent.futures import Future, wait
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pv

from lakewatch.aws.clients import ClientFactory, require
from lakewatch.aws.s3 import S3Uri, is_s3
from lakewatch.model.artifact import META, TARBALL, WEIGHTS, ModelArtifact
from lakewatch.model.data import BadRows, iter_sources, read_csv_table, read_pairs
from lakewatch.model.detector import DETECTOR_FILE, Detector
from lakewatch.model.encoding import entity_hashes, parse_addresses
from lakewatch.model.fit import hold_out, train_with_detector
from lakewatch.model.hyperparameters import parse_assignments
from lakewatch.model.inference import Inference
from lakewatch.model.memory import release_freed_memory

SM_HYPERPARAMETERS = Path("/opt/ml/input/config/hyperparameters.json")


def sagemaker_hyperparameters(path: Path | None = None) -> dict[str, str]:
    """SageMaker's hyperparameters (``SM_HPS``, else the config file), minus ``sagemaker_*``."""
    if os.environ.get("SM_HPS"):
        raw = json.loads(os.environ["SM_HPS"])
    else:
        path = path or SM_HYPERPARAMETERS
        if not path.exists():
            return {}
        raw = json.loads(path.read_text())
    return {k: str(v).strip('"') for k, v in raw.items() if not k.startswith("sagemaker_")}


TRAINER_MODULE = "lakewatch.model.train"  # imports torch: 1.4 s of a run's start


def _start_importing(module: str) -> None:
    """Import ``module`` on a thread while the CSV is read (pyarrow reads without the GIL):
    the first use waits on the import lock only for what is left of it."""
    threading.Thread(
        target=importlib.import_module, args=(module,), name=f"import-{module}", daemon=True
    ).start()


def run_training(
    train: str | None,
    model_dir: str | None,
    validation: str | None = None,
    hp_items: list[str] | None = None,
    *,
    clients: ClientFactory | None = None,
    max_bad_share: float = 0.01,
    device: str | None = None,
    allow_ipv6: bool = True,
    log=print,
) -> dict[str, Any]:
    """Read, train, build the detector, save both; returns the training stats.

    Without a validation channel a tenth of the pairs is held out: early stopping and the
    detector's combination are both judged on pairs the model did not train on.
    """
    script_mode = "SM_MODEL_DIR" in os.environ and model_dir is None
    train = train or os.environ.get("SM_CHANNEL_TRAIN")
    validation = validation or os.environ.get("SM_CHANNEL_VALIDATION")
    model_dir = model_dir or os.environ.get("SM_MODEL_DIR")
    if not train or not model_dir:
        raise ValueError("--train and --model-dir are required outside SageMaker")
    given = {**sagemaker_hyperparameters(), **parse_assignments(hp_items or [])}
    _start_importing(TRAINER_MODULE)

    # hashes only (no names), and the hold-out taken here so the pairs are held once
    pairs = read_pairs(
        train, clients, allow_ipv6=allow_ipv6, max_bad_share=max_bad_share, names=False
    )
    for line in pairs.bad.describe():
        log(line)
    val = None
    if validation:
        val = read_pairs(
            validation, clients, allow_ipv6=allow_ipv6, max_bad_share=max_bad_share, names=False
        )
        log("validation " + val.bad.describe()[0])
    if val is None or len(val) == 0:
        pairs, val = hold_out(pairs, int(given.get("seed", 0) or 0), log)
    release_freed_memory()  # what reading the CSV used
    # model and detector staged together, published together: never one without the other
    # (and no --model-dir at all when training fails)
    with tempfile.TemporaryDirectory(prefix="lakewatch-train-") as tmp:
        staging = Path(tmp)
        saving: list[Future[Path]] = []

        def write_model(artifact: ModelArtifact) -> None:
            artifact.meta["inputs"] = {"train": train, "validation": validation}
            # the tarball compressed while the detector's history is built
            saving.append(artifact.start_saving(staging, tarball=not script_mode))

        try:
            trained = train_with_detector(
                pairs, val, given, device=device, log=log, write_model=write_model
            )
            del pairs, val
            trained.detector.save(staging)
        finally:
            wait(saving)  # the staging folder outlives the model's writing, whatever happened
        for written in saving:
            written.result()  # what writing the model raised, if it did
        where = publish_model(staging, model_dir, clients, extra=(DETECTOR_FILE,))
    stats = trained.stats
    if "validation:discriminator_auc" in stats:
        log(f"validation:discriminator_auc={stats['validation:discriminator_auc']:.6f}")
    log(f"model written to {where}")
    return {**stats, "artifact": where}


def publish_model(
    staging: Path, model_dir: str, clients: ClientFactory | None, extra: tuple[str, ...] = ()
) -> str:
    """Move the staged files into ``model_dir`` (or upload them), ``extra`` files (the
    detector) first and the model last; returns where the model is. Both algorithms' jobs
    publish this way."""
    names = [n for n in (*extra, META, WEIGHTS, TARBALL) if (staging / n).exists()]
    if is_s3(model_dir):
        uri = S3Uri.parse(model_dir)
        s3 = require(clients, model_dir)("s3")
        for name in names:  # from disk, in parts: never the whole model in memory
            s3.upload_file(str(staging / name), uri.bucket, uri.join(name).key)
        return str(uri.join(TARBALL))
    out = Path(model_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name in names:  # a rename where staging and model_dir share a file system
        part = out / f".{name}.tmp"
        shutil.move(staging / name, part)
        part.replace(out / name)
    return str(out / (TARBALL if TARBALL in names else ""))


def score_file(
    model_dir: str,
    input_path: str,
    output: str | None = None,
    *,
    clients: ClientFactory | None = None,
    flag_unknown: bool = False,
    use_detector: bool = False,
    log=lambda s: print(s, file=sys.stderr),
) -> BadRows:
    """One ``dot_product`` per input line, in order; lines that cannot be scored stay empty.

    ``use_detector``: lakewatch's combined score instead (same convention, higher = normal).
    """
    inference = Inference(ModelArtifact.load(model_dir))
    found = Detector.load(model_dir) if use_detector else None
    bad = BadRows()
    columns: dict[str, list[pa.Array]] = {"dot_product": [], "known_entity": []}
    for name, body in iter_sources(input_path, clients):
        before = bad.rows
        table, lines = read_csv_table(name, body, bad, exact_columns=False)
        total = bad.rows - before
        hashes = entity_hashes(table["entity"].combine_chunks())
        addrs = parse_addresses(table["ip"].combine_chunks())
        scores = inference.score_parsed(hashes, addrs)
        if found is not None:
            scores.dot_product = found.combine(hashes, addrs, scores.dot_product).astype(np.float32)
        for i in np.flatnonzero(~scores.valid)[:20]:
            bad.add(name, int(lines[i]), "invalid IP address", str(table["ip"][int(i)]))
        dots = np.full(total, np.nan, np.float32)
        known = np.zeros(total, bool)
        dots[lines - 1] = scores.dot_product
        known[lines - 1] = scores.known_entity
        columns["dot_product"].append(pa.array(dots, mask=np.isnan(dots)))
        columns["known_entity"].append(pa.array(known))
    names = ["dot_product", "known_entity"] if flag_unknown else ["dot_product"]
    table = pa.table({n: pa.chunked_array(columns[n], type=columns[n][0].type) for n in names})
    buf = io.BytesIO()
    pv.write_csv(table, buf, pv.WriteOptions(include_header=False))
    _write_output(output, buf.getvalue(), clients)
    if bad.total:
        for line in bad.describe():
            log(line)
    return bad


def _write_output(output: str | None, body: bytes, clients: ClientFactory | None) -> None:
    if output is None or output == "-":
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
    elif is_s3(output):
        uri = S3Uri.parse(output)
        require(clients, output)("s3").put_object(Bucket=uri.bucket, Key=uri.key, Body=body)
    else:
        path = Path(output)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(body)
        tmp.replace(path)
