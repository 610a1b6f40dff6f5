"""SageMaker RCF's inference formats: parse requests, render responses.

Requests: ``text/csv`` (one row of features a line), ``application/json`` (``{"instances":
[{"features": [...]}]}`` or SageMaker's dense ``{"data": {"features": {"values": [...]}}}``
items) and ``application/jsonlines`` (one such item a line). Responses: ``application/json``
(``{"scores": [{"score": x}, ...]}``) or ``application/jsonlines`` (``{"score": x}`` a line).
A row whose width is not the model's ``feature_dim``, or with a missing or non-finite value, is
a 400 naming the row, as SageMaker answers (an endpoint scores every row or none).
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from lakewatch.model.protocol import RequestError, media_type
from lakewatch.model.rcf.data import FeatureRowError, training_rows

CONTENT_TYPES = ("text/csv", "application/json", "application/jsonlines")
ACCEPT_TYPES = ("application/json", "application/jsonlines")


def _features(item: Any, where: str) -> Any:
    if isinstance(item, dict):
        if "features" in item:
            return item["features"]
        data = item.get("data")
        if isinstance(data, dict) and isinstance(data.get("features"), dict):
            return data["features"].get("values")
        raise RequestError(
            f'{where}: expected {{"features": [...]}} or '
            '{"data": {"features": {"values": [...]}}}'
        )
    return item


def _row(values: Any, where: str, feature_dim: int) -> list[float]:
    if not isinstance(values, list):
        raise RequestError(f"{where}: features must be a list of numbers")
    if len(values) != feature_dim:
        raise RequestError(
            f"{where}: {len(values)} features, but the model's feature_dim is {feature_dim}"
        )
    out = []
    for i, v in enumerate(values, 1):
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise RequestError(f"{where}: feature {i} is not a finite number: {json.dumps(v)}")
        out.append(float(v))
    return out


def _json_items(body: bytes, jsonlines: bool) -> list[Any]:
    text = body.decode("utf-8", "replace")
    if jsonlines:
        items = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    items.append(json.loads(line))
                except ValueError as err:
                    raise RequestError(f"line {number}: not JSON: {err}") from None
        return items
    try:
        doc = json.loads(text)
    except ValueError as err:
        raise RequestError(f"not JSON: {err}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("instances"), list):
        raise RequestError('expected {"instances": [{"features": [...]}, ...]}')
    return doc["instances"]


def parse_request(body: bytes, content_type: str | None, feature_dim: int) -> np.ndarray:
    """The request's rows, float32 (rows, feature_dim); RequestError (400/415) otherwise."""
    kind, _ = media_type(content_type)
    if kind == "text/csv":
        try:
            rows = training_rows("request", body, feature_dim)
        except FeatureRowError as err:
            message = str(err).replace("request line", "row")
            raise RequestError(f"{message} (the model's feature_dim is {feature_dim})") from None
        return rows.reshape(len(rows), feature_dim)
    if kind in ("application/json", "application/jsonlines"):
        items = _json_items(body, kind == "application/jsonlines")
        parsed = [
            _row(_features(item, f"instance {i}"), f"instance {i}", feature_dim)
            for i, item in enumerate(items, 1)
        ]
        return np.array(parsed, np.float32).reshape(len(parsed), feature_dim)
    raise RequestError(
        f"content type {content_type!r} is not supported; use one of {', '.join(CONTENT_TYPES)}",
        415,
    )


def render(scores: np.ndarray, accept: str | None) -> tuple[bytes, str]:
    """(body, content type) in SageMaker RCF's response shape."""
    kind, _ = media_type(accept)
    if kind in ("", "*/*", "application/json"):
        body = {"scores": [{"score": float(s)} for s in scores]}
        return json.dumps(body).encode(), "application/json"
    if kind == "application/jsonlines":
        lines = "".join(json.dumps({"score": float(s)}) + "\n" for s in scores)
        return lines.encode(), "application/jsonlines"
    raise RequestError(
        f"accept type {accept!r} is not supported; use one of {', '.join(ACCEPT_TYPES)}", 406
    )
