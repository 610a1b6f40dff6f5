"""model.inference: the fast one-layer path and the general path give the same dot products, the
embeddings it returns are the ones it multiplied, bad addresses are marked rather than scored,
and concurrent requests (the model server's threads) never see each other's embeddings."""

import dataclasses
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from lakewatch.model.artifact import ModelArtifact
from lakewatch.model.inference import Inference


@pytest.fixture(scope="module")
def inference(trained):
    return Inference(ModelArtifact.load(trained[1]))


def test_fast_and_general_paths_agree_and_embeddings_multiply_to_the_dots(inference, lake_pairs):
    ents, ips = lake_pairs[0][:500], lake_pairs[1][:500]
    fast = inference.score(ents, ips)
    full = inference.score(ents, ips, embeddings=True)
    assert fast.entity_embedding is None
    assert np.allclose(fast.dot_product, full.dot_product, atol=1e-4)
    product = (full.entity_embedding * full.ip_embedding).sum(axis=1)
    assert np.allclose(product, full.dot_product, atol=1e-4)


def test_bad_addresses_are_nan_and_invalid_and_ipv6_is_scored(inference):
    out = inference.score(["i-1", "i-1", "i-1"], ["10.0.0.1", "not-an-ip", "2001:db8::1"])
    assert list(out.valid) == [True, False, True]
    assert np.isnan(out.dot_product[1]) and not np.isnan(out.dot_product[[0, 2]]).any()


def test_a_deeper_encoder_applies_relu_between_layers(trained, lake_pairs):
    art = ModelArtifact.load(trained[1])
    rng = np.random.default_rng(0)
    dim = art.hp.vector_dim
    second = (rng.normal(size=(dim, dim)).astype(np.float32), np.ones(dim, np.float32))
    deep = dataclasses.replace(art, layers=[*art.layers, second])
    ents, ips = lake_pairs[0][:50], lake_pairs[1][:50]
    one = Inference(art).score(ents, ips, embeddings=True)
    got = Inference(deep).score(ents, ips)
    hidden = Inference(art).embed_addresses  # the first layer's output, before the ReLU
    from lakewatch.model.encoding import parse_addresses

    x = np.maximum(hidden(parse_addresses(ips)), 0) @ second[0].T + second[1]
    want = (one.entity_embedding * x).sum(axis=1)
    assert np.allclose(got.dot_product, want, rtol=1e-4, atol=1e-3)


def test_concurrent_requests_get_their_own_embeddings(inference, lake_pairs):
    ents, ips = lake_pairs

    def request(k: int):
        sl = slice(k * 97, k * 97 + 300 + k)
        out = inference.score(ents[sl], ips[sl], embeddings=True)
        return len(ents[sl]), out

    with ThreadPoolExecutor(8) as pool:
        for n, out in pool.map(request, range(40)):
            assert out.ip_embedding.shape[0] == n == len(out.dot_product)
            product = (out.entity_embedding * out.ip_embedding).sum(axis=1)
            assert np.allclose(product, out.dot_product, atol=1e-4)
