"""Train IP Insights: binary cross-entropy of observed pairs against generated negatives.

Each mini-batch of B observed (positive) pairs is scored against
``random_negative_sampling_rate`` x B uniformly random addresses paired with the same entities
and ``shuffled_negative_sampling_rate`` x B in-batch re-pairings (entity i with address j).
Embedding tables get sparse gradients and a lazy Adam (only the rows a batch touched, with L2
weight decay; second moment per row, first moment in bfloat16); the dense encoder layers use
plain Adam with the same weight decay.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from lakewatch.metrics import roc_auc
from lakewatch.model.data import Pairs
from lakewatch.model.encoding import distinct, entity_rows, ip_tokens, random_addresses
from lakewatch.model.hyperparameters import MIN_STEPS, Hyperparameters
from lakewatch.model.memory import keep_freed_memory, release_freed_memory
from lakewatch.model.network import IPInsightsNet

Log = Callable[[str], None]
_BETAS = (0.9, 0.999)
_EPS = 1e-8
VALIDATION_CAP = 200_000
CHUNK = 16_384  # pairs per forward pass outside training
MIN_GAIN = 1e-4


@dataclass(frozen=True)
class EpochStats:
    """One epoch's figures: its ``#quality_metric`` line, and its entry in the stats."""

    epoch: int
    loss: float
    seconds: float
    pairs_per_second: float
    validation_auc: float | None = None  # None without a validation set

    def line(self) -> str:
        """The epoch's line in the log, in IP Insights' ``#quality_metric`` form."""
        line = (
            f"#quality_metric: epoch={self.epoch}, train:loss={self.loss:.5f}, "
            f"pairs/s={self.pairs_per_second:,.0f}"
        )
        if self.validation_auc is not None:
            line += f", validation:discriminator_auc={self.validation_auc:.5f}"
        return line

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "epoch": self.epoch,
            "loss": self.loss,
            "seconds": self.seconds,
            "pairs_per_second": self.pairs_per_second,
        }
        if self.validation_auc is not None:
            out["validation_auc"] = self.validation_auc
        return out


@dataclass(frozen=True)
class TrainingStats:
    """What a training run reports. ``to_dict`` is the form the model's metadata and
    ``lakewatch train``'s result keep: their keys, written before this type existed."""

    epochs: tuple[EpochStats, ...]
    train_pairs: int
    train_entities: int
    train_bad_rows: dict[str, Any]
    device: str
    optimizer_steps: int
    stopped_early: bool
    validation_pairs: int = 0

    @property
    def validation_auc(self) -> float | None:
        """``validation:discriminator_auc``: the last epoch's; None without validation."""
        return self.epochs[-1].validation_auc if self.epochs else None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "epochs": [e.to_dict() for e in self.epochs],
            "train_pairs": self.train_pairs,
            "train_entities": self.train_entities,
            "train_bad_rows": self.train_bad_rows,
            "device": self.device,
            "optimizer_steps": self.optimizer_steps,
            "stopped_early": self.stopped_early,
        }
        if self.validation_auc is not None:
            out["validation:discriminator_auc"] = self.validation_auc
            out["validation_pairs"] = self.validation_pairs
        return out


@dataclass
class TrainResult:
    model: IPInsightsNet
    hp: Hyperparameters
    known_entities: np.ndarray  # sorted uint64 hashes of every entity seen in training
    stats: TrainingStats


class _LazyAdam:
    """Adam for an embedding table that updates only the rows a batch touched.

    Its state is small beside the table (FBGEMM's "partial row-wise Adam", the usual choice
    for large embedding tables): the second moment is one float per row, and the first moment
    is held in bfloat16 and computed in float32. Training memory is the table and a half, not
    three tables.
    """

    def __init__(self, table: torch.Tensor, lr: float, weight_decay: float):
        self.table, self.lr, self.wd = table, lr, weight_decay
        self.m = torch.zeros_like(table, dtype=torch.bfloat16)
        self.v = torch.zeros(table.shape[0], 1, dtype=table.dtype, device=table.device)

    @torch.no_grad()
    def step(self, t: int, rows: torch.Tensor, rows_now: torch.Tensor, grad: torch.Tensor) -> None:
        """``rows``: unique table rows; ``rows_now``: their current values; ``grad``: dL/drow."""
        b1, b2 = _BETAS
        if self.wd:
            grad = grad.add(rows_now, alpha=self.wd)
        m = self.m.index_select(0, rows).float().mul_(b1).add_(grad, alpha=1 - b1)
        v = self.v.index_select(0, rows).mul_(b2)
        v.add_(grad.square().mean(1, keepdim=True), alpha=1 - b2)
        self.m.index_copy_(0, rows, m.to(torch.bfloat16))
        self.v.index_copy_(0, rows, v)
        denom = v.sqrt_().div_(math.sqrt(1 - b2**t)).add_(_EPS)
        # the step added in place (index_add_ runs on both threads; index_copy_ on one)
        self.table.index_add_(0, rows, m.div_(denom).mul_(-self.lr / (1 - b1**t)))


class _DenseAdam:
    """``torch.optim.Adam`` (L2 weight decay, no amsgrad) for the encoder's few dense tensors,
    step for step as torch's single-tensor path computes it (a test holds the two equal).

    Only because of what constructing torch's optimizers costs: ``Optimizer`` methods are
    wrapped in ``torch._disable_dynamo``, whose first call imports ``torch._dynamo``: 1.05 s of
    every ``lakewatch train`` process, for a layer of 128 x 128 weights.
    """

    def __init__(self, params: list[nn.Parameter], lr: float, weight_decay: float):
        self.params, self.lr, self.wd = params, lr, weight_decay
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]
        self.t = 0

    @torch.no_grad()
    def step(self) -> None:
        b1, b2 = _BETAS
        self.t += 1
        correction1, correction2 = 1 - b1**self.t, (1 - b2**self.t) ** 0.5
        for p, m, v in zip(self.params, self.m, self.v, strict=True):
            if p.grad is None:
                continue
            grad = p.grad.add(p, alpha=self.wd) if self.wd else p.grad
            m.lerp_(grad, 1 - b1)
            v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
            p.addcdiv_(m, (v.sqrt() / correction2).add_(_EPS), value=-self.lr / correction1)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None


def _device(prefer: str | None = None) -> torch.device:
    if prefer:
        return torch.device(prefer)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class _Sampler:
    """Random-address negatives, as prefix tokens, from one seeded stream."""

    def __init__(self, seed: int, buckets: int, families: np.ndarray | None):
        self.rng = np.random.default_rng(seed)
        self.buckets = buckets
        self.families = families  # None when the data is IPv4 only

    def tokens(self, n: int, family: np.ndarray | None = None) -> np.ndarray:
        return ip_tokens(random_addresses(self.rng, n, family), self.buckets)


class _Distinct:
    """A batch's distinct table rows, sorted, and each entry's place among them, in linear
    time: what ``torch.unique`` returns, without its sort (14% of a CPU step at 80,000 tokens
    a batch). A mark per table row finds the rows; a scratch slot per row numbers them.
    Sorted rows also make the optimizer's row writes sequential: 1.5x faster than in batch
    order on a 2^20-row table.
    """

    def __init__(self, rows: int):
        self.seen = np.zeros(rows, bool)
        self.slot = np.empty(rows, np.int64)

    def __call__(self, index: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        self.seen[index] = True
        rows = np.flatnonzero(self.seen)
        self.seen[rows] = False
        self.slot[rows] = np.arange(rows.size)
        return torch.from_numpy(rows), torch.from_numpy(self.slot[index])


def _distinct(index: torch.Tensor, scratch: _Distinct | None) -> tuple[torch.Tensor, torch.Tensor]:
    if scratch is None or index.device.type != "cpu":
        return torch.unique(index, return_inverse=True)
    return scratch(index.numpy())


class _SumOfRows(torch.autograd.Function):
    """Each address's base vector, the sum of its prefix rows, without a (tokens x dim)
    intermediate: ``embedding_bag`` forward, one scatter-add per prefix level backward
    (``embedding_bag``'s own backward sorts the indices; gathering every token's row and
    summing moved the intermediate through memory twice: 9% of a CPU step)."""

    @staticmethod
    def forward(ctx: Any, rows: torch.Tensor, picks: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(picks)
        ctx.distinct = rows.shape[0]
        return nn.functional.embedding_bag(picks, rows, mode="sum")

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (picks,) = ctx.saved_tensors
        out = grad.new_zeros(ctx.distinct, grad.shape[1])
        for level in range(picks.shape[1]):
            out.index_add_(0, picks[:, level], grad)
        return out, None


def _train_step(
    model: IPInsightsNet,
    opt: tuple[_LazyAdam, _LazyAdam],
    t: int,
    ent: torch.Tensor,
    tok: torch.Tensor,
    rand_tok: torch.Tensor | None,
    shuffles: list[torch.Tensor],
    scratch: tuple[_Distinct, _Distinct] | None = None,
) -> torch.Tensor:
    """One mini-batch: forward on the unique rows it touches, backward, row-wise updates."""
    b = ent.shape[0]
    tokens = (
        tok.reshape(-1) if rand_tok is None else torch.cat([tok.reshape(-1), rand_tok.reshape(-1)])
    )
    ent_rows, ent_inv = _distinct(ent, scratch[0] if scratch else None)
    tok_rows, tok_inv = _distinct(tokens, scratch[1] if scratch else None)
    ent_now = model.entity.weight.detach().index_select(0, ent_rows).requires_grad_()
    tok_now = model.ip_tokens.weight.detach().index_select(0, tok_rows).requires_grad_()
    base = _SumOfRows.apply(tok_now, tok_inv.view(-1, tok.shape[1]))
    linear = model.linear_encoder()
    if linear is not None:
        # <e, W x + c> = <W'e, x> + <e, c>: the layer applied to the batch's distinct entities
        # rather than to its addresses and their random negatives (20% of a step)
        ent_side = (ent_now @ linear.weight).index_select(0, ent_inv)
        ent_bias = (ent_now @ linear.bias).index_select(0, ent_inv)
        ip_all = base
    else:
        ent_side = ent_now.index_select(0, ent_inv)
        ent_bias = ent_side.new_zeros(b)
        ip_all = model.encoder(base)
    ip_vec = ip_all[:b]
    positive = (ent_side * ip_vec).sum(dim=1) + ent_bias
    negatives = []
    if rand_tok is not None:
        reps = rand_tok.shape[0] // b
        rand_dots = (ent_side.repeat(reps, 1) * ip_all[b:]).sum(dim=1)
        negatives.append(rand_dots + ent_bias.repeat(reps))
    for perm in shuffles:
        negatives.append((ent_side * ip_vec.index_select(0, perm)).sum(dim=1) + ent_bias)
    # binary cross-entropy with logits, label 1 for observed pairs and 0 for negatives
    neg = torch.cat(negatives)
    loss = (nn.functional.softplus(-positive).sum() + nn.functional.softplus(neg).sum()) / (
        positive.shape[0] + neg.shape[0]
    )
    loss.backward()
    assert ent_now.grad is not None and tok_now.grad is not None  # both were in the loss
    opt[0].step(t, ent_rows, ent_now.detach(), ent_now.grad)
    opt[1].step(t, tok_rows, tok_now.detach(), tok_now.grad)
    return loss.detach()


class _Batches:
    """Each batch's entity rows and address tokens.

    On the CPU they are computed a batch at a time from the pairs (hashing 10,000 addresses
    takes a fraction of a millisecond; holding every pair's rows took 108 MB at 9M pairs). On a
    GPU they are computed once and held there (as int32), so no batch waits on the host.
    """

    def __init__(self, pairs: Pairs, hp: Hyperparameters, dev: torch.device):
        self.pairs, self.hp = pairs, hp
        self.held: tuple[torch.Tensor, torch.Tensor] | None = None
        if dev.type != "cpu":
            ent = entity_rows(pairs.entity_hash, hp.num_entity_vectors).astype(np.int32)
            tok = ip_tokens(pairs.addrs, hp.ip_hash_buckets).astype(np.int32)
            self.held = (torch.from_numpy(ent).to(dev), torch.from_numpy(tok).to(dev))

    def rows(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.held is not None:
            return self.held[0][idx].long(), self.held[1][idx].long()
        i = idx.numpy()
        return (
            torch.from_numpy(entity_rows(self.pairs.entity_hash[i], self.hp.num_entity_vectors)),
            torch.from_numpy(ip_tokens(self.pairs.addrs.take(i), self.hp.ip_hash_buckets)),
        )


def _negative_rates(hp: Hyperparameters) -> tuple[int, int]:
    r, s = hp.random_negative_sampling_rate, hp.shuffled_negative_sampling_rate
    return (r, s) if r + s > 0 else (1, 0)


def discriminator_auc(
    model: IPInsightsNet, hp: Hyperparameters, pairs: Pairs, device: torch.device, seed: int = 12345
) -> float:
    """``validation:discriminator_auc``: how well the model tells the validation pairs from
    negatives generated the way training generates them (same rates, fixed seed)."""
    n = min(len(pairs), VALIDATION_CAP)
    rng = np.random.default_rng(seed)
    index = rng.choice(len(pairs), n, replace=False) if n < len(pairs) else np.arange(n)
    ent = torch.from_numpy(entity_rows(pairs.entity_hash[index], hp.num_entity_vectors))
    tok = torch.from_numpy(ip_tokens(pairs.addrs.take(index), hp.ip_hash_buckets))
    r, s = _negative_rates(hp)
    rand = np.zeros((0, tok.shape[1]), np.int64)
    if r:
        fam = np.tile(pairs.addrs.family[index], r)
        rand = ip_tokens(random_addresses(rng, n * r, fam), hp.ip_hash_buckets)
    perms = [torch.from_numpy(rng.permutation(n)).to(device) for _ in range(s)]
    pos, neg = [], []
    model.eval()
    with torch.no_grad():
        # a chunk at a time: the (pairs, levels, dim) lookups of a whole set are hundreds of MB
        ip_vec = torch.empty(n, hp.vector_dim, device=device)
        for lo in range(0, n, CHUNK):
            ip_vec[lo : lo + CHUNK] = model.encode_ip(tok[lo : lo + CHUNK].to(device))
        for lo in range(0, n, CHUNK):
            hi = min(lo + CHUNK, n)
            e = model.entity(ent[lo:hi].to(device))
            pos.append((e * ip_vec[lo:hi]).sum(1))
            for k in range(r):
                rv = model.encode_ip(torch.from_numpy(rand[k * n + lo : k * n + hi]).to(device))
                neg.append((e * rv).sum(1))
            for perm in perms:
                neg.append((e * ip_vec.index_select(0, perm[lo:hi])).sum(1))
    model.train()
    return roc_auc(torch.cat(pos).cpu().numpy(), torch.cat(neg).cpu().numpy())


class _Fit:
    """One run's model, optimizers and negative samplers, built once from the seed; each
    ``epoch`` is one pass over the pairs in a fresh order."""

    def __init__(self, pairs: Pairs, hp: Hyperparameters, dev: torch.device):
        self.pairs, self.hp, self.dev = pairs, hp, dev
        torch.manual_seed(hp.seed)
        self.model = IPInsightsNet(
            hp.num_entity_vectors, hp.ip_hash_buckets, hp.vector_dim, hp.num_ip_encoder_layers
        ).to(dev)
        self.sparse = (
            _LazyAdam(self.model.entity.weight.data, hp.learning_rate, hp.weight_decay),
            _LazyAdam(self.model.ip_tokens.weight.data, hp.learning_rate, hp.weight_decay),
        )
        self.dense = (
            _DenseAdam(self.model.dense_parameters(), hp.learning_rate, hp.weight_decay)
            if self.model.dense_parameters()
            else None
        )
        self.batches = _Batches(pairs, hp, dev)
        self.scratch = (
            (_Distinct(hp.num_entity_vectors), _Distinct(hp.ip_hash_buckets))
            if dev.type == "cpu"
            else None
        )
        has_v6 = bool((pairs.addrs.family == 6).any())
        self.families = pairs.addrs.family if has_v6 else None  # None: IPv4 negatives only
        self.rates = _negative_rates(hp)
        self.sampler = _Sampler(hp.seed + 1, hp.ip_hash_buckets, self.families)
        self.gen = torch.Generator().manual_seed(hp.seed)
        self.steps = 0

    def epoch(self, epoch: int, validation: Pairs | None, log: Log) -> EpochStats:
        """One pass, then the validation AUC when there is a validation set."""
        started = time.perf_counter()
        loss = self._pass(epoch, started, log)
        seconds = time.perf_counter() - started
        auc = None
        if validation is not None and len(validation):
            release_freed_memory()  # glibc's defaults: the AUC's buffers go back when done
            auc = discriminator_auc(self.model, self.hp, validation, self.dev)
            keep_freed_memory()
        return EpochStats(epoch, loss, seconds, len(self.pairs) / seconds, auc)

    def _pass(self, epoch: int, started: float, log: Log) -> float:
        """The mini-batches in a fresh order, progress logged every
        ``batch_metrics_publish_interval`` batches; returns the mean loss."""
        n, bsz = len(self.pairs), self.hp.mini_batch_size
        perm = torch.randperm(n, generator=self.gen, dtype=torch.int32).to(self.dev)  # as int64
        total, batches = 0.0, 0
        for start in range(0, n, bsz):
            total += float(self._step(perm[start : start + bsz]))
            batches += 1
            if batches % self.hp.batch_metrics_publish_interval == 0:
                done = min(start + bsz, n)
                log(
                    f"Epoch[{epoch}] Batch[{batches}] Speed: "
                    f"{done / (time.perf_counter() - started):,.0f} samples/sec "
                    f"loss={total / batches:.4f}"
                )
        return total / max(batches, 1)

    def _step(self, idx: torch.Tensor) -> torch.Tensor:
        """One mini-batch: its negatives drawn (random addresses of the same families, then
        in-batch re-pairings), then the sparse and dense updates; returns its loss."""
        b = idx.shape[0]
        r, s = self.rates
        rand_tok = None
        if r:
            fam = (
                np.tile(self.families[idx.cpu().numpy()], r) if self.families is not None else None
            )
            rand_tok = torch.from_numpy(self.sampler.tokens(b * r, fam)).to(self.dev)
        shuffles = [torch.randperm(b, generator=self.gen).to(self.dev) for _ in range(s)]
        self.steps += 1
        ent, tok = self.batches.rows(idx)
        loss = _train_step(
            self.model, self.sparse, self.steps, ent, tok, rand_tok, shuffles, self.scratch
        )
        if self.dense is not None:
            self.dense.step()
            self.dense.zero_grad()
        return loss


class _EarlyStop:
    """Counts the epochs since the validation AUC last gained ``MIN_GAIN``."""

    def __init__(self, patience: int):
        self.patience, self.best, self.since_best = patience, -1.0, 0

    def exhausted(self, record: EpochStats) -> bool:
        """Whether ``patience`` epochs have passed without a gain (never with patience 0 or
        without a validation AUC)."""
        if record.validation_auc is None or not self.patience:
            return False
        if record.validation_auc > self.best + MIN_GAIN:
            self.best, self.since_best = record.validation_auc, 0
        else:
            self.since_best += 1
        return self.since_best >= self.patience


def train(
    pairs: Pairs,
    hp: Hyperparameters,
    validation: Pairs | None = None,
    log: Log = print,
    device: str | None = None,
    patience: int = 3,
) -> TrainResult:
    """Train on ``pairs``; reports loss (and validation AUC) per epoch through ``log``.

    With ``validation``, training stops early once the validation AUC has not improved by
    ``MIN_GAIN`` for ``patience`` epochs (0: never), but never before ``MIN_STEPS`` optimizer
    steps: the discriminator AUC saturates long before the model has placed rarely seen
    entities, so stopping on it alone undertrained small data sets again.
    """
    if len(pairs) == 0:
        raise ValueError("no valid training pairs")
    dev = _device(device)
    fit = _Fit(pairs, hp, dev)
    known = distinct(pairs.entity_hash)
    log(
        f"training on {len(pairs):,} pairs ({len(known):,} entities) on {dev}: "
        + ", ".join(f"{k}={v}" for k, v in hp.to_dict().items())
    )
    keep_freed_memory()  # from here on: what setting up used went back to the OS
    epochs: list[EpochStats] = []
    stop, stopped_early = _EarlyStop(patience), False
    for epoch in range(hp.epochs):
        record = fit.epoch(epoch, validation, log)
        epochs.append(record)
        log(record.line())
        if stop.exhausted(record) and fit.steps >= MIN_STEPS and epoch + 1 < hp.epochs:
            log(f"early stop after epoch {epoch}: no validation gain in {patience} epochs")
            stopped_early = True
            break
    model, steps = fit.model, fit.steps
    del fit  # the optimizers' state and the held batches
    release_freed_memory()
    stats = TrainingStats(
        epochs=tuple(epochs),
        train_pairs=len(pairs),
        train_entities=len(known),
        train_bad_rows=pairs.bad.to_dict(),
        device=str(dev),
        optimizer_steps=steps,
        stopped_early=stopped_early,
        validation_pairs=len(validation) if validation is not None else 0,
    )
    return TrainResult(model.cpu().eval(), hp, known, stats)
