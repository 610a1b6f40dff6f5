"""Hooks for SageMaker's PyTorch inference container when it serves a lakewatch model.

The container calls ``model_fn`` once and ``transform_fn`` per request; both reuse the model
server's protocol, so the endpoint answers exactly like ``lakewatch serve``.
"""

from __future__ import annotations

from lakewatch.model.artifact import ModelArtifact
from lakewatch.model.inference import Inference
from lakewatch.model.protocol import check_scores, parse_request, render, wants_embeddings


def model_fn(model_dir: str) -> Inference:
    return Inference(ModelArtifact.load(model_dir))


def transform_fn(
    model: Inference, body: bytes, content_type: str, accept: str
) -> tuple[bytes, str]:
    entities, addresses, label = parse_request(body, content_type)
    scores = model.score(entities, addresses, embeddings=wants_embeddings(accept))
    check_scores(scores, addresses, label)
    return render(scores, accept)
