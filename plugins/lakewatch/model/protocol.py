"""SageMaker IP Insights' inference formats: parse requests, render responses.

Requests: ``text/csv`` (``entity,address`` lines), ``application/json`` (``{"instances": [...]}``
with either ``{"data": {"features": {"values": [e, ip]}}}`` or ``{"features": [e, ip]}`` items)
and ``application/jsonlines`` (one such item per line). Responses: ``application/json``
(``{"predictions": [{"dot_product": ...}]}``) or ``application/jsonlines``; ``verbose=True`` in
the Accept header adds the embeddings. lakewatch adds ``known_entity`` to each prediction.
"""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakewatch.model.encoding import EntityHashCache
from lakewatch.model.inference import Inference, Scores

Texts: TypeAlias = "list[str] | pa.Array"  # parsed pairs: Arrow on the fast path

MAX_PAYLOAD = 6 * 1024 * 1024  # SageMaker real-time endpoints' request limit
CONTENT_TYPES = ("text/csv", "application/json", "application/jsonlines")
ACCEPT_TYPES = ("application/json", "application/jsonlines")


class RequestError(ValueError):
    """A bad request: the message names the offending row. ``status`` is the HTTP code."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def media_type(header: str | None) -> tuple[str, dict[str, str]]:
    """``'application/json; verbose=True'`` -> ``('application/json', {'verbose': 'True'})``."""
    parts = [p.strip() for p in (header or "").split(";")]
    params = {}
    for p in parts[1:]:
        key, _, value = p.partition("=")
        if key:
            params[key.strip().lower()] = value.strip().strip('"')
    return parts[0].lower(), params


def _pair(item: Any, where: str) -> tuple[str, str]:
    values = item
    if isinstance(item, dict):
        if "features" in item:
            values = item["features"]
        elif isinstance(item.get("data"), dict):
            values = item["data"].get("features", {}).get("values")
        else:
            raise RequestError(
                f'{where}: expected {{"features": [entity, address]}} or '
                f'{{"data": {{"features": {{"values": [...]}}}}}}'
            )
    if (
        not isinstance(values, list)
        or len(values) != 2
        or not all(isinstance(v, str) for v in values)
    ):
        raise RequestError(
            f"{where}: expected [entity, address] as two strings, got {json.dumps(values)[:80]}"
        )
    return values[0], values[1]


def _plain_csv(text: str) -> tuple[pa.Array, pa.Array] | None:
    """The common CSV request (no quoting or spaces, two fields a line) split with C-speed
    string methods, each line's one comma checked by numpy, without a Python step per line;
    None for anything else, which the csv module then reads (and names the offending line
    of)."""
    if '"' in text or " " in text or "\t" in text:
        return None
    body = text.replace("\r\n", "\n").rstrip("\n")
    if not body or "\r" in body or "\n\n" in body or body.startswith("\n"):
        return None
    data = (body + "\n").encode()
    raw = np.frombuffer(data, np.uint8)
    newlines, commas = np.flatnonzero(raw == 10), np.flatnonzero(raw == 44)
    # comma i lies on line i: before newline i and after newline i-1
    if commas.size != newlines.size or not (
        (commas < newlines).all() and (commas[1:] > newlines[:-1]).all()
    ):
        return None
    # the fields straight from the body's bytes: field k runs to its separator (kept, then cut)
    ends = np.empty(2 * commas.size + 1, np.int32)
    ends[0], ends[1::2], ends[2::2] = 0, commas + 1, newlines + 1
    fields = pc.utf8_slice_codeunits(
        pa.StringArray.from_buffers(2 * commas.size, pa.py_buffer(ends), pa.py_buffer(data)),
        0,
        -1,
    )
    even = np.arange(0, len(fields), 2)
    return fields.take(even), fields.take(even + 1)


def parse_request(body: bytes, content_type: str | None) -> tuple[Texts, Texts, str]:
    """(entities, addresses, row label) from a request body; raises ``RequestError``."""
    if len(body) > MAX_PAYLOAD:
        raise RequestError(
            f"payload of {len(body):,} bytes exceeds the {MAX_PAYLOAD:,}-byte limit", status=413
        )
    mtype, _ = media_type(content_type)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise RequestError(f"body is not UTF-8: {err}") from None
    entities: list[str] = []
    addresses: list[str] = []
    if mtype == "text/csv" and (plain := _plain_csv(text)) is not None:
        return plain[0], plain[1], "line"
    if mtype == "text/csv":
        reader = csv.reader(io.StringIO(text, newline=""))
        try:
            for row in reader:
                if not row:
                    continue
                if len(row) != 2:
                    raise RequestError(
                        f"line {reader.line_num}: expected 2 columns (entity,address), "
                        f"found {len(row)}"
                    )
                entities.append(row[0].strip())
                addresses.append(row[1].strip())
        except csv.Error as err:
            raise RequestError(f"line {reader.line_num}: not CSV: {err}") from None
        label = "line"
    elif mtype == "application/json":
        try:
            doc = json.loads(text)
        except ValueError as err:
            raise RequestError(f"body is not JSON: {err}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("instances"), list):
            raise RequestError('expected a JSON object with an "instances" list')
        for n, item in enumerate(doc["instances"], start=1):
            e, a = _pair(item, f"instance {n}")
            entities.append(e)
            addresses.append(a)
        label = "instance"
    elif mtype in ("application/jsonlines", "application/x-jsonlines"):
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line.rstrip().rstrip(","))
            except ValueError as err:
                raise RequestError(f"line {n}: not JSON: {err}") from None
            e, a = _pair(item, f"line {n}")
            entities.append(e)
            addresses.append(a)
        label = "line"
    else:
        raise RequestError(
            f"unsupported Content-Type {content_type!r}; use one of " + ", ".join(CONTENT_TYPES),
            status=415,
        )
    if not entities:
        raise RequestError("the request holds no (entity, address) pairs")
    return entities, addresses, label


def check_scores(scores: Scores, addresses: Texts, label: str) -> None:
    """A request with an address that does not parse is refused, naming the first one."""
    if not scores.valid.all():
        bad = int((~scores.valid).argmax())
        value = addresses[bad]
        text = value.as_py() if isinstance(value, pa.Scalar) else value
        raise RequestError(f"{label} {bad + 1}: {text!r} is not an IP address")


def render(scores: Scores, accept: str | None) -> tuple[bytes, str]:
    mtype, params = media_type(accept or "application/json")
    if mtype in ("*/*", ""):
        mtype = "application/json"
    if mtype not in ACCEPT_TYPES and mtype != "application/x-jsonlines":
        raise RequestError(
            f"unsupported Accept {accept!r}; use one of " + ", ".join(ACCEPT_TYPES), status=406
        )
    verbose = params.get("verbose", "").lower() in ("true", "1")
    jsonlines = mtype != "application/json"
    if not (verbose and scores.entity_embedding is not None and scores.ip_embedding is not None):
        rows = _plain_rows(scores)
        if jsonlines:
            return _joined(rows, "\n") + b"\n", "application/jsonlines"
        return b'{"predictions": [' + _joined(rows, ", ") + b"]}", "application/json"
    preds = []
    for i, dot in enumerate(scores.dot_product.tolist()):
        preds.append(
            {
                "dot_product": None if math.isnan(dot) else dot,
                "known_entity": bool(scores.known_entity[i]),
                "entity_embedding": scores.entity_embedding[i].tolist(),
                "ip_embedding": scores.ip_embedding[i].tolist(),
            }
        )
    if not jsonlines:
        return json.dumps({"predictions": preds}).encode(), "application/json"
    return ("".join(json.dumps(p) + "\n" for p in preds)).encode(), "application/jsonlines"


_KNOWN = (pa.scalar(', "known_entity": false}'), pa.scalar(', "known_entity": true}'))


def _plain_rows(scores: Scores) -> pa.Array:
    """The common answer's rows, written by Arrow's kernels: a Python step per row was most of
    a 1,000-pair request's time in the server. A dot product is printed as the shortest text
    that reads back as the same float32 (the model computes in float32)."""
    dots = pa.array(scores.dot_product, pa.float32())
    text = pc.if_else(pc.is_nan(dots), pa.scalar("null"), pc.cast(dots, pa.string()))
    known = pc.if_else(pa.array(scores.known_entity, pa.bool_()), _KNOWN[1], _KNOWN[0])
    return pc.binary_join_element_wise(pa.scalar('{"dot_product": '), text, known, "")


def _joined(rows: pa.Array, separator: str) -> bytes:
    one = pa.ListArray.from_arrays(pa.array([0, len(rows)], pa.int32()), rows)
    return pc.binary_join(one, separator)[0].as_py().encode()


def wants_embeddings(accept: str | None) -> bool:
    return media_type(accept)[1].get("verbose", "").lower() in ("true", "1")


def answer(
    inference: Inference,
    body: bytes,
    content_type: str | None,
    accept: str | None,
    known: EntityHashCache | None = None,
) -> tuple[bytes, str]:
    """One invocation, SageMaker's request in and its response out (body, content type): what
    the model server and the in-process runtime both answer; ``RequestError`` for a request
    the endpoint refuses."""
    entities, addresses, label = parse_request(body, content_type)
    scores = inference.score(entities, addresses, embeddings=wants_embeddings(accept), known=known)
    check_scores(scores, addresses, label)
    return render(scores, accept)
