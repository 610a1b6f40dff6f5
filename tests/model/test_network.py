"""model.network: the IP Insights network's shape (an address is the sum of its prefix tokens
through the encoder), its initialisation (unseen prefixes add nothing), and the split of its
parameters into the sparse tables and the dense encoder that training updates differently."""

import torch

from lakewatch.model.network import IPInsightsNet


def test_an_address_is_its_token_rows_summed_through_the_encoder():
    torch.manual_seed(0)
    net = IPInsightsNet(num_entity_vectors=10, ip_hash_buckets=50, dim=8, layers=2)
    with torch.no_grad():
        net.ip_tokens.weight.normal_()
    tokens = torch.tensor([[3, 7], [7, 3], [3, 3]])
    emb = net.encode_ip(tokens)
    assert emb.shape == (3, 8)
    assert torch.allclose(emb[0], emb[1])  # a sum: order does not matter
    base = net.ip_tokens.weight[3] + net.ip_tokens.weight[7]
    first, relu, second = net.encoder
    assert isinstance(relu, torch.nn.ReLU)
    assert torch.allclose(emb[0], second(relu(first(base))), atol=1e-6)
    rows = torch.tensor([1, 2, 3])
    assert torch.allclose(net(rows, tokens), (net.entity(rows) * emb).sum(dim=1))


def test_unseen_prefixes_start_at_zero_and_the_encoder_near_identity():
    net = IPInsightsNet(num_entity_vectors=4, ip_hash_buckets=20, dim=16, layers=1)
    assert torch.count_nonzero(net.ip_tokens.weight) == 0
    (layer,) = net.encoder
    assert torch.allclose(layer.weight, torch.eye(16), atol=0.2) and torch.all(layer.bias == 0)
    assert net.entity.weight.std() > 0.3


def test_tables_are_sparse_and_the_encoder_dense():
    net = IPInsightsNet(num_entity_vectors=4, ip_hash_buckets=20, dim=4, layers=3)
    sparse, dense = net.sparse_parameters(), net.dense_parameters()
    assert [p.shape for p in sparse] == [(4, 4), (20, 4)]
    assert len(dense) == 6  # weight and bias of three layers
    loss = net(torch.tensor([0]), torch.tensor([[1, 2]])).sum()
    loss.backward()
    assert all(p.grad.is_sparse for p in sparse)
    assert not any(p.grad.is_sparse for p in dense if p.grad is not None)
    names = {id(p) for p in sparse} | {id(p) for p in dense}
    assert names == {id(p) for p in net.parameters()}
