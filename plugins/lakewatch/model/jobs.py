"""The model's entry points: train (locally or as a SageMaker script-mode job) and batch score.

Script mode: when SageMaker runs the job, ``SM_CHANNEL_TRAIN``/``SM_CHANNEL_VALIDATION`` name
the input folders, ``SM_MODEL_DIR`` the output folder (SageMaker tars it into model.tar.gz), and
``/opt/ml/input/config/hyperparameters.json`` holds the hyperparameters as strings. Explicit
arguments win over all of these.
"""

from __future__ import annotations

import io
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pv

from lakewatch.aws.clients import ClientFactory, require
from lakewatch.aws.s3 import S3Uri, is_s3
from lakewatch.model import detector
from lakewatch.model.artifact import ModelArtifact
from lakewatch.model.data import BadRows, Pairs, iter_sources, read_csv_table, read_pairs
from lakewatch.model.detector import DETECTOR_FILE, Detector
from lakewatch.model.encoding import entity_hashes, parse_addresses
from lakewatch.model.hyperparameters import parse_assignments, resolve
from lakewatch.model.scorer import Scorer

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

    pairs = read_pairs(train, clients, allow_ipv6=allow_ipv6, max_bad_share=max_bad_share)
    for line in pairs.bad.describe():
        log(line)
    val = None
    if validation:
        val = read_pairs(validation, clients, allow_ipv6=allow_ipv6, max_bad_share=max_bad_share)
        log("validation " + val.bad.describe()[0])
    trained = train_with_detector(pairs, val, given, device=device, log=log)
    artifact, found, result = trained.artifact, trained.detector, trained.result
    artifact.meta["inputs"] = {"train": train, "validation": validation}
    if is_s3(model_dir):
        uri = S3Uri.parse(model_dir)
        body = artifact_tarball(artifact)
        s3 = require(clients, model_dir)("s3")
        s3.put_object(Bucket=uri.bucket, Key=uri.join(DETECTOR_FILE).key, Body=found.to_bytes())
        s3.put_object(Bucket=uri.bucket, Key=uri.join("model.tar.gz").key, Body=body)
        where = str(uri.join("model.tar.gz"))
    else:
        found.save(model_dir)
        where = str(artifact.save(model_dir, tarball=not script_mode))
    if "validation:discriminator_auc" in result.stats:
        log(f"validation:discriminator_auc={result.stats['validation:discriminator_auc']:.6f}")
    log(f"model written to {where}")
    return {**result.stats, "artifact": where}


@dataclass
class Trained:
    artifact: Any  # ModelArtifact
    detector: Any  # Detector
    result: Any  # TrainResult


def train_with_detector(
    pairs: Pairs, validation: Pairs | None, given: dict[str, Any], device=None, log=print
) -> Trained:
    """What ``lakewatch train`` does once the pairs are read (the quality bench calls it too)."""
    from lakewatch.model.train import train as fit

    if validation is None or len(validation) == 0:
        pairs, validation = hold_out(pairs, int(given.get("seed", 0) or 0))
        log(
            f"no validation channel: holding out {len(validation):,} pairs for early stopping "
            "and the detector"
        )
    hp = resolve(
        given,
        distinct_entities=len(np.unique(pairs.entity_hash)),
        distinct_addresses=len(np.unique(pairs.addrs.lo ^ pairs.addrs.hi)),
        pairs=len(pairs),
    )
    result = fit(pairs, hp, validation=validation, log=log, device=device)
    artifact = ModelArtifact.from_training(result)
    scorer = Scorer(artifact)
    found = detector.build(
        pairs.entity_hash,
        pairs.addrs,
        validation.entity_hash,
        validation.addrs,
        lambda h, a: scorer.score_parsed(h, a).dot_product,
        seed=hp.seed,
    )
    found.meta["model"] = artifact.meta["created"]
    log(
        "detector weights (per standard deviation): "
        + ", ".join(f"{k} {v:.2f}" for k, v in found.weights().items())
    )
    return Trained(artifact, found, result)


def hold_out(pairs: Pairs, seed: int, share: float = 0.1) -> tuple[Pairs, Pairs]:
    """(the rest, a random ``share``) of the pairs, the same for the same seed."""
    rng = np.random.default_rng(seed + 7)
    mask = rng.random(len(pairs)) < share
    if len(pairs) >= 20 and not mask.any():
        mask[rng.integers(0, len(pairs))] = True
    return pairs.take(np.flatnonzero(~mask)), pairs.take(np.flatnonzero(mask))


def artifact_tarball(artifact) -> bytes:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return artifact.save(tmp).read_bytes()


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
    scorer = Scorer(ModelArtifact.load(model_dir))
    found = Detector.load(model_dir) if use_detector else None
    bad = BadRows()
    columns: dict[str, list[pa.Array]] = {"dot_product": [], "known_entity": []}
    for name, body in iter_sources(input_path, clients):
        before = bad.rows
        table, lines = read_csv_table(name, body, bad, exact_columns=False)
        total = bad.rows - before
        hashes = entity_hashes(table["entity"].combine_chunks())
        addrs = parse_addresses(table["ip"].combine_chunks())
        scores = scorer.score_parsed(hashes, addrs)
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
