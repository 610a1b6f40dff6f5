"""Publish a model's detector beside it, whichever algorithm trained it.

lakewatch's trainer writes ``detector.safetensors`` itself (beside ``model.tar.gz`` when run
in the worker, inside it in SageMaker script mode). SageMaker's built-in algorithm knows
nothing of it, so for that model the detector is built here from the same extracts, with the
dot products of the deployed endpoint: the history from the training parts, the combination
fit on the validation parts.
"""

from __future__ import annotations

import io
import tarfile
from typing import Any

import numpy as np
import pyarrow as pa

from lakewatch.aws.clients import ClientFactory
from lakewatch.aws.endpoint import invoke_pairs
from lakewatch.aws.s3 import S3Uri
from lakewatch.extract.daily import results_store
from lakewatch.model import detector
from lakewatch.model.data import Pairs, read_pairs
from lakewatch.model.detector import DETECTOR_FILE
from lakewatch.model.encoding import format_addresses
from lakewatch.model.fit import hold_out
from lakewatch.model.registry import ModelRecord
from lakewatch.names import artifact_key
from lakewatch.settings import Settings
from lakewatch.training.pipeline import exists


def publish_detector(
    settings: Settings, clients: ClientFactory, record: ModelRecord, log=print
) -> dict[str, Any]:
    """Make ``models/artifacts/<id>/detector.safetensors`` exist; says how it got there."""
    store = results_store(settings, clients)
    key = artifact_key(settings.models_prefix, record.model_id, DETECTOR_FILE)
    if exists(store, key):
        return {"detector": store.uri(key), "how": "written by the trainer"}
    inside = _from_tarball(clients, record.artifact_uri)
    if inside is not None:
        store.put(key, inside)
        return {"detector": store.uri(key), "how": "copied out of model.tar.gz"}
    train_parts = [store.uri(k) for k in record.extra.get("train_parts", [])]
    val_parts = [store.uri(k) for k in record.extra.get("validation_parts", [])]
    train = _read(train_parts, clients)
    holdout = _read(val_parts, clients) if val_parts else None
    if holdout is None or len(holdout) == 0:
        train, holdout = hold_out(train, 0)
    runtime = clients("sagemaker-runtime")
    # the endpoint takes entity strings: each hash back to a name seen in the data
    names = dict(zip(train.entity_hash.tolist(), train.names().to_pylist(), strict=True))
    names.update(zip(holdout.entity_hash.tolist(), holdout.names().to_pylist(), strict=True))

    def dots(hashes: np.ndarray, addrs) -> np.ndarray:
        ents = [names[h] for h in hashes.tolist()]
        return invoke_pairs(
            runtime, settings.endpoint_name, ents, format_addresses(addrs)
        ).dot_product

    found = detector.build(
        train.entity_hash,
        train.addrs,
        holdout.entity_hash,
        holdout.addrs,
        dots,
        names={name: h for h, name in names.items()},
    )
    found.meta["model"] = record.model_id
    store.put(key, found.to_bytes())
    log(f"detector for {record.model_id} built through {settings.endpoint_name}: {found.weights()}")
    return {"detector": store.uri(key), "how": f"built through endpoint {settings.endpoint_name}"}


def _read(parts: list[str], clients: ClientFactory):
    pieces = [read_pairs(p, clients) for p in parts]
    if not pieces:
        raise ValueError("the model record lists no training parts to build a detector from")
    first = pieces[0]
    if len(pieces) == 1:
        return first
    return Pairs(
        pa.concat_arrays([p.names() for p in pieces]),
        np.concatenate([p.entity_hash for p in pieces]),
        detector.concat_addresses(*[p.addrs for p in pieces]),
        first.bad,
        [s for p in pieces for s in p.sources],
        {k: v for p in pieces for k, v in (p.name_hashes or {}).items()},
    )


def _from_tarball(clients: ClientFactory, uri: str) -> bytes | None:
    """``detector.safetensors`` from a script-mode ``model.tar.gz``, if it holds one."""
    loc = S3Uri.parse(uri)
    body = clients("s3").get_object(Bucket=loc.bucket, Key=loc.key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:*") as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.lstrip("./") == DETECTOR_FILE:
                handle = tar.extractfile(member)
                return handle.read() if handle else None
    return None
