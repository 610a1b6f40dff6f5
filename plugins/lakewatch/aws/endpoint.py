"""Score (entity, address) pairs (IP Insights) or feature rows (Random Cut Forest) through an
endpoint with boto3's ``sagemaker-runtime`` client.

Requests stay under SageMaker's 6 MB payload limit; throttling and "model not ready" answers are
retried with exponential backoff and jitter; anything else fails with the endpoint's message.
The same client reaches a SageMaker endpoint or lakewatch's local router (``endpoint_url``).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from botocore.exceptions import BotoCoreError, ClientError

MAX_REQUEST_BYTES = 5 * 1024 * 1024  # under the 6 MB limit, with room for headers
RETRYABLE = {
    "ThrottlingException",
    "ModelNotReadyException",
    "ServiceUnavailable",
    "InternalFailure",
    "ServiceUnavailableException",
}


class EndpointError(RuntimeError):
    """The endpoint refused or failed a request, and retrying will not help."""


@dataclass
class EndpointScores:
    dot_product: np.ndarray  # float64, nan where the endpoint gave none
    known_entity: np.ndarray | None  # None when the endpoint does not say (built-in model)
    requests: int


def _batches(lines: Sequence[bytes], limit: int) -> list[tuple[int, int]]:
    out, start, size = [], 0, 0
    for i, line in enumerate(lines):
        if size + len(line) > limit and i > start:
            out.append((start, i))
            start, size = i, 0
        size += len(line)
    if start < len(lines):
        out.append((start, len(lines)))
    return out


def invoke_pairs(
    runtime: Any,
    endpoint: str,
    entities: Sequence[str],
    addresses: Sequence[str],
    *,
    max_bytes: int = MAX_REQUEST_BYTES,
    max_attempts: int = 6,
    base_delay: float = 0.2,
    sleep: Callable[[float], None] = time.sleep,
) -> EndpointScores:
    """Dot products for the pairs, in order."""
    lines = [f"{e},{a}\n".encode() for e, a in zip(entities, addresses, strict=True)]
    dots = np.full(len(lines), np.nan)
    known: np.ndarray | None = None
    spans = _batches(lines, max_bytes)
    for start, end in spans:
        body = b"".join(lines[start:end])
        preds = _invoke(runtime, endpoint, body, max_attempts, base_delay, sleep)
        if len(preds) != end - start:
            raise EndpointError(
                f"endpoint {endpoint} returned {len(preds)} predictions for {end - start} pairs"
            )
        dots[start:end] = [
            np.nan if p.get("dot_product") is None else p["dot_product"] for p in preds
        ]
        if preds and "known_entity" in preds[0]:
            if known is None:
                known = np.ones(len(lines), bool)
            known[start:end] = [bool(p.get("known_entity", True)) for p in preds]
    return EndpointScores(dots, known, len(spans))


def invoke_rcf(
    runtime: Any,
    endpoint: str,
    rows: np.ndarray,
    *,
    max_bytes: int = MAX_REQUEST_BYTES,
    max_attempts: int = 6,
    base_delay: float = 0.2,
    sleep: Callable[[float], None] = time.sleep,
) -> np.ndarray:
    """RCF scores of the rows (``text/csv``, one row a line, as SageMaker's RCF takes them;
    its answer ``{"scores": [{"score": x}, ...]}``), in order, float64; the rows are sent as
    float32, the models' precision."""
    # float32, the models' own precision, in 9 digits: the text parses back to the same values
    values = np.asarray(rows, np.float32)
    lines = [(",".join(f"{v:.9g}" for v in row.tolist()) + "\n").encode() for row in values]
    scores = np.full(len(lines), np.nan)
    for start, end in _batches(lines, max_bytes):
        body = b"".join(lines[start:end])
        items = _invoke(
            runtime, endpoint, body, max_attempts, base_delay, sleep, "scores", "Random Cut Forest"
        )
        if len(items) != end - start:
            raise EndpointError(
                f"endpoint {endpoint} returned {len(items)} scores for {end - start} rows"
            )
        try:
            scores[start:end] = [float(item["score"]) for item in items]
        except (KeyError, TypeError, ValueError) as err:
            raise EndpointError(f"endpoint {endpoint}: a score is missing ({err})") from None
    return scores


def _invoke(
    runtime: Any,
    endpoint: str,
    body: bytes,
    max_attempts: int,
    base_delay: float,
    sleep: Callable[[float], None],
    field: str = "predictions",
    model: str = "IP Insights",
) -> list[dict[str, Any]]:
    for attempt in range(1, max_attempts + 1):
        try:
            resp = runtime.invoke_endpoint(
                EndpointName=endpoint, Body=body, ContentType="text/csv", Accept="application/json"
            )
            raw = resp["Body"].read()
        except BotoCoreError as err:  # no connection, timed out: the endpoint may come back
            if attempt < max_attempts:
                sleep(base_delay * 2 ** (attempt - 1) * (0.5 + random.random()))
                continue
            raise EndpointError(f"endpoint {endpoint}: {err}") from None
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if (code in RETRYABLE or status in (429, 502, 503, 504)) and attempt < max_attempts:
                sleep(base_delay * 2 ** (attempt - 1) * (0.5 + random.random()))
                continue
            message = err.response.get("Error", {}).get("Message", str(err))
            raise EndpointError(f"endpoint {endpoint}: {code or status}: {message}") from None
        try:
            predictions = json.loads(raw)[field]
            if not isinstance(predictions, list):
                raise TypeError(f"{field} is not a list")
            return predictions
        except (ValueError, KeyError, TypeError) as err:
            raise EndpointError(
                f"endpoint {endpoint}: response is not {model} JSON ({err}): {raw[:120]!r}"
            ) from None
    raise AssertionError("unreachable")
