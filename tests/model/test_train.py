import numpy as np
import pytest
import torch
from torch import nn

from lakewatch.model import train as T
from lakewatch.model.data import pairs_from_lists
from lakewatch.model.hyperparameters import resolve
from lakewatch.model.network import IPInsightsNet
from tests.conftest import auc_of


def test_lazy_adam_is_row_wise_adam_with_l2_on_touched_rows():
    torch.manual_seed(0)
    table = torch.randn(6, 3)
    start = table.clone()
    lr, wd, (b1, b2), eps = 0.1, 0.01, T._BETAS, T._EPS
    lazy = T._LazyAdam(table, lr=lr, weight_decay=wd)
    rows = torch.tensor([0, 2, 5])
    ref = start[rows].double()
    m, v = torch.zeros_like(ref), torch.zeros(3, 1, dtype=torch.float64)
    for t in (1, 2, 3):
        grad = torch.randn(3, 3)
        lazy.step(t, rows, table.index_select(0, rows), grad)
        g = grad.double() + wd * ref  # L2 weight decay, as Adam's weight_decay adds it
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * (g * g).mean(1, keepdim=True)  # one second moment per row
        ref = ref - lr * (m / (1 - b1**t)) / ((v / (1 - b2**t)).sqrt() + eps)
    # touched rows follow row-wise Adam (the first moment is stored in bfloat16: to 1e-3);
    # untouched rows do not move
    assert torch.allclose(table[rows].double(), ref, atol=2e-3)
    assert not torch.allclose(table[rows], start[rows], atol=0.05)
    assert torch.equal(table[[1, 3, 4]], start[[1, 3, 4]])


def test_dense_adam_steps_as_torch_adam_does_bit_for_bit():
    torch.manual_seed(0)
    ours_layer, torch_layer = nn.Linear(16, 16), nn.Linear(16, 16)
    torch_layer.load_state_dict(ours_layer.state_dict())
    ours = T._DenseAdam(list(ours_layer.parameters()), lr=1e-2, weight_decay=1e-5)
    theirs = torch.optim.Adam(torch_layer.parameters(), lr=1e-2, weight_decay=1e-5)
    for step in range(5):
        x = torch.randn(8, 16)
        for layer in (ours_layer, torch_layer):
            layer(x).square().sum().backward()
        ours.step()
        theirs.step()
        ours.zero_grad()
        theirs.zero_grad(set_to_none=True)
        for a, b in zip(ours_layer.parameters(), torch_layer.parameters(), strict=True):
            assert torch.equal(a, b), step
            assert a.grad is None


def test_training_does_not_import_torch_dynamo():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from lakewatch.model.data import pairs_from_lists\n"
        "from lakewatch.model.hyperparameters import resolve\n"
        "from lakewatch.model.train import train\n"
        "pairs = pairs_from_lists(['i-1', 'i-2'] * 50, [f'10.0.0.{k}' for k in range(100)])\n"
        "train(pairs, resolve({'epochs': 1}, distinct_entities=2), log=lambda s: None)\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"  # 1 s of every training process's start


def test_lazy_adam_state_is_half_a_table_not_two():
    table = torch.zeros(1000, 128)
    lazy = T._LazyAdam(table, lr=0.1, weight_decay=0.0)
    state = lazy.m.element_size() * lazy.m.nelement() + lazy.v.element_size() * lazy.v.nelement()
    assert state < 0.51 * table.element_size() * table.nelement()


@pytest.mark.parametrize("layers", [0, 1, 2])  # 1: the layer is applied to the entities
def test_step_loss_is_bce_over_positives_and_both_negative_kinds(layers):
    torch.manual_seed(1)
    model = IPInsightsNet(8, 64, 4, layers)
    snapshot = {k: v.clone() for k, v in model.state_dict().items()}
    ent = torch.tensor([0, 1, 2])
    tok = torch.randint(0, 64, (3, 4))
    rand_tok = torch.randint(0, 64, (6, 4))  # rate 2
    perm = torch.tensor([2, 0, 1])
    opt = (
        T._LazyAdam(model.entity.weight.data, 0.0, 0.0),
        T._LazyAdam(model.ip_tokens.weight.data, 0.0, 0.0),
    )
    loss = T._train_step(model, opt, 1, ent, tok, rand_tok, [perm])
    model.load_state_dict(snapshot)
    with torch.no_grad():
        e = model.entity(ent)
        ip = model.encode_ip(tok)
        pos = (e * ip).sum(1)
        neg_r = (e.repeat(2, 1) * model.encode_ip(rand_tok)).sum(1)
        neg_s = (e * ip[perm]).sum(1)
        logits = torch.cat([pos, neg_r, neg_s])
        labels = torch.cat([torch.ones(3), torch.zeros(9)])
        expected = nn.functional.binary_cross_entropy_with_logits(logits, labels)
    assert torch.allclose(loss, expected, atol=1e-6)


def test_distinct_rows_in_linear_time_match_a_sort():
    rng = np.random.default_rng(3)
    scratch = T._Distinct(1000)
    for n in (1, 50, 5000):  # the scratch array is reused: stale slots must not leak
        index = rng.integers(0, 1000, n)
        rows, inverse = scratch(index)
        assert np.array_equal(rows.numpy()[inverse.numpy()], index)
        assert np.array_equal(np.sort(rows.numpy()), np.unique(index))


def test_a_step_with_linear_distinct_rows_equals_one_with_torch_unique():
    """The distinct rows' order differs from torch.unique's; the updated tables must not."""
    tables = []
    for scratch in (None, (T._Distinct(8), T._Distinct(64))):
        torch.manual_seed(1)
        model = IPInsightsNet(8, 64, 4, 1)
        opt = (
            T._LazyAdam(model.entity.weight.data, 0.1, 0.01),
            T._LazyAdam(model.ip_tokens.weight.data, 0.1, 0.01),
        )
        gen = torch.Generator().manual_seed(0)
        for t in (1, 2):
            ent = torch.randint(0, 8, (30,), generator=gen)
            tok = torch.randint(0, 64, (30, 4), generator=gen)
            rand_tok = torch.randint(0, 64, (30, 4), generator=gen)
            perm = torch.randperm(30, generator=gen)
            T._train_step(model, opt, t, ent, tok, rand_tok, [perm], scratch)
        tables.append([p.detach().clone() for p in model.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*tables, strict=True))


def test_sum_of_rows_has_the_gradient_of_a_gather_and_sum():
    rows = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    picks = torch.tensor([[0, 2, 2, 5], [1, 1, 3, 0]])  # a row twice in one address
    assert torch.autograd.gradcheck(lambda r: T._SumOfRows.apply(r, picks), (rows,))
    assert torch.allclose(T._SumOfRows.apply(rows, picks), rows[picks].sum(1))


def test_no_negative_rate_falls_back_to_one_random():
    hp = resolve(
        {"random_negative_sampling_rate": 0, "shuffled_negative_sampling_rate": 0},
        distinct_entities=2,
    )
    assert T._negative_rates(hp) == (1, 0)


def _tiny_train(seed, lake_pairs, **hp):
    ents, ips = lake_pairs
    pairs = pairs_from_lists(ents[:20_000], ips[:20_000])
    params = {"epochs": 2, "vector_dim": 16, "mini_batch_size": 1000, "seed": seed, **hp}
    return T.train(pairs, resolve(params, distinct_entities=60), log=lambda s: None)


def test_same_seed_same_model_other_seed_other_model(lake_pairs):
    a = _tiny_train(3, lake_pairs)
    b = _tiny_train(3, lake_pairs)
    c = _tiny_train(4, lake_pairs)
    for (k, va), vb in zip(
        a.model.state_dict().items(), b.model.state_dict().values(), strict=True
    ):
        assert torch.equal(va, vb), k
    assert not torch.equal(a.model.entity.weight, c.model.entity.weight)


def test_loss_falls_and_validation_auc_is_reported(lake_pairs):
    ents, ips = lake_pairs
    val = pairs_from_lists(ents[-5000:], ips[-5000:])
    pairs = pairs_from_lists(ents[:-5000], ips[:-5000])
    hp = resolve({"epochs": 3, "vector_dim": 32, "mini_batch_size": 2000}, distinct_entities=60)
    lines = []
    result = T.train(pairs, hp, validation=val, log=lines.append)
    losses = [e.loss for e in result.stats.epochs]
    assert losses[-1] < losses[0]
    assert result.stats.validation_auc > 0.7
    assert any("validation:discriminator_auc=" in line for line in lines)
    assert len(result.known_entities) == len(set(ents[:-5000]))


def test_ipv6_pairs_train_with_ipv6_negatives():
    ents = [f"e{i % 10}" for i in range(2000)]
    ips = [
        f"2600:1f18:{i % 10:x}::{i % 97:x}" if i % 2 else f"10.0.{i % 10}.{i % 50}"
        for i in range(2000)
    ]
    result = T.train(
        pairs_from_lists(ents, ips),
        resolve({"epochs": 2, "vector_dim": 8, "mini_batch_size": 500}, distinct_entities=10),
        log=lambda s: None,
    )
    assert np.isfinite(result.stats.epochs[-1].loss)


def test_empty_input_is_an_error():
    with pytest.raises(ValueError, match="no valid training pairs"):
        T.train(pairs_from_lists([], []), resolve({}, distinct_entities=1), log=lambda s: None)


def test_model_separates_real_pairs_from_random_addresses(trained, lake_pairs):
    from lakewatch.model.artifact import ModelArtifact
    from lakewatch.model.inference import Inference

    _, model_dir = trained
    inference = Inference(ModelArtifact.load(model_dir))
    ents, ips = lake_pairs
    rng = np.random.default_rng(0)
    pick = rng.choice(len(ents), 3000, replace=False)
    real = inference.score([ents[i] for i in pick], [ips[i] for i in pick]).dot_product
    fake_ips = [".".join(map(str, rng.integers(1, 255, 4))) for _ in pick]
    fake = inference.score([ents[i] for i in pick], fake_ips).dot_product
    assert auc_of(real, fake) > 0.9


@pytest.mark.parametrize(("given", "want"), [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_torch_threads_sleep_while_they_wait_unless_told_otherwise(given, want):
    """Set before torch loads (libgomp reads it once): spinning waiters made an epoch 20x
    slower beside another process on a 2-core machine."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if given:
        env["OMP_WAIT_POLICY"] = given
    code = (
        "import sys, os; import lakewatch.model.train; "
        "assert 'torch' in sys.modules; print(os.environ['OMP_WAIT_POLICY'])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == want
