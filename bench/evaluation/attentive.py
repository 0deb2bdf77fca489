"""Attentive probe: learnable queries cross-attending over a frozen encoder's tokens.

The head of I-JEPA's and V-JEPA's attentive probing (and the ICLR'26 "Reality Check" ECG
benchmark's frozen protocol): a record's tokens (``bench.evaluation.tokens``: every window's
(lead x) time tokens) are layer-normed, ``queries`` learnable query vectors attend over them
(multi-head cross-attention, padding masked), and a linear layer maps the concatenated query
outputs, standardised over the training records, to the task's logits. A mean over tokens is
one fixed attention pattern; the head learns where to look instead, so it reads information
that the linear probe on mean-pooled embeddings cannot (a token set whose mean is the same for
every class).

Training: AdamW on the task kind's loss (``bench.evaluation.objectives``), the learning rate
rising linearly over the first epoch and then constant, so the state after ``e`` epochs is that
of an ``e``-epoch run and one run of the longest ``epochs`` serves every epoch count of the
grid. Every (queries, lr, weight decay) of the config trains once, from the cell's seed;
validation (the task's main metric) after each epoch count of ``epochs`` picks the setting and
epoch count; ties keep the earlier one (the config's order). The encoder is never run here:
its tokens come from the cache.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from bench.config import check_range
from bench.errors import ConfigError
from bench.evaluation.objectives import Objective
from bench.evaluation.tokens import RecordTokens
from bench.training.optim import parameter_groups


@dataclass(frozen=True)
class AttentiveConfig:
    """The head's grid (each chosen on validation): ``queries`` (its size), ``lrs``,
    ``weight_decays`` and ``epochs``; ``heads`` attention heads (the largest divisor of the
    token width not above it), ``batch_size`` records per step, and ``steps``: time steps per
    window and lead kept in the token cache (``bench.evaluation.tokens``)."""

    queries: tuple[int, ...] = (1, 4)
    lrs: tuple[float, ...] = (1e-3, 1e-4)
    weight_decays: tuple[float, ...] = (0.0, 0.05)
    epochs: tuple[int, ...] = (10, 30)
    heads: int = 4
    batch_size: int = 64
    steps: int = 16

    def __post_init__(self) -> None:
        where = "evaluation.attentive"
        for name in ("queries", "lrs", "weight_decays", "epochs"):
            if not getattr(self, name):
                raise ConfigError(f"{where}.{name} must list at least one value")
        for value in self.queries:
            check_range(f"{where}.queries", value, 1)
        for value in self.lrs:
            check_range(f"{where}.lrs", value, 1e-12)
        for value in self.weight_decays:
            check_range(f"{where}.weight_decays", value, 0)
        for value in self.epochs:
            check_range(f"{where}.epochs", value, 1)
        check_range(f"{where}.heads", self.heads, 1)
        check_range(f"{where}.batch_size", self.batch_size, 1)
        check_range(f"{where}.steps", self.steps, 1)


class AttentivePooler(nn.Module):
    """LayerNorm -> ``n_queries`` learnable queries cross-attending -> standardised -> Linear.

    The pooled outputs are standardised over records (batch norm without affine, as the
    fine-tuning linear head and the linear probe's scaler do): a frozen encoder's tokens can
    differ little between records, and a head fed such inputs unscaled learns very slowly.
    Training standardises with each batch's statistics; ``calibrate`` sets the statistics that
    scoring uses to those of the whole training set.
    """

    def __init__(self, dim: int, n_queries: int, n_outputs: int, heads: int):
        super().__init__()
        heads = max(h for h in range(1, heads + 1) if dim % h == 0)
        self.norm = nn.LayerNorm(dim)
        self.queries = nn.Parameter(0.02 * torch.randn(n_queries, dim))
        self.attention = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.standardise = nn.BatchNorm1d(n_queries * dim, affine=False)
        self.linear = nn.Linear(n_queries * dim, n_outputs)

    def pool(self, tokens: Tensor, padding: Tensor | None = None) -> Tensor:
        """Tokens [B, N, dim] (``padding`` [B, N], True where padded) -> [B, queries * dim]."""
        keys = self.norm(tokens)
        queries = self.queries.expand(len(tokens), -1, -1)
        pooled, _ = self.attention(
            queries, keys, keys, key_padding_mask=padding, need_weights=False
        )
        return pooled.flatten(1)

    def forward(self, tokens: Tensor, padding: Tensor | None = None) -> Tensor:
        """Tokens [B, N, dim] (``padding`` as in ``pool``) -> logits [B, outputs]."""
        return self.linear(self.standardise(self.pool(tokens, padding)))

    @torch.no_grad()
    def calibrate(self, tokens: RecordTokens, device: torch.device, batch_size: int) -> None:
        """Set the standardisation to the mean and variance of the pooled outputs of every
        record of ``tokens`` (the training set)."""
        self.eval()
        pooled = torch.cat(
            [self.pool(*tokens.batch(rows, device)) for rows in batches(len(tokens), batch_size)]
        )
        self.standardise.running_mean.copy_(pooled.mean(0))
        self.standardise.running_var.copy_(pooled.var(0, unbiased=False))


def batches(n: int, size: int, order: np.ndarray | None = None) -> list[np.ndarray]:
    """``n`` rows (in ``order``, else in turn) in ceil(n / size) batches of near-equal size, so
    that no batch holds a single record (batch statistics need two) unless ``n`` is 1."""
    rows = np.arange(n) if order is None else order
    return np.array_split(rows, -(-n // size))


@dataclass(frozen=True)
class AttentiveResult:
    """Scores of the selected head on validation and the report rows, and the selection."""

    val_scores: np.ndarray
    test_scores: np.ndarray
    details: dict[str, Any] = field(default_factory=dict)
    extra_scores: tuple[np.ndarray, ...] = ()


def attentive_probe(
    train: tuple[RecordTokens, np.ndarray],
    val: tuple[RecordTokens, np.ndarray],
    test_tokens: RecordTokens,
    config: AttentiveConfig,
    objective: Objective,
    device: torch.device,
    seed: int,
    extra_tokens: Sequence[RecordTokens] = (),
) -> AttentiveResult:
    """Train a head per (queries, lr, weight decay) on ``train`` (tokens, labels), select the
    setting and epoch count on ``val``; score ``test_tokens`` and each of ``extra_tokens``."""
    labels = torch.as_tensor(train[1], dtype=torch.float32, device=device)
    best: tuple[float, dict[str, Any], dict[str, Tensor], np.ndarray] | None = None
    curves: dict[str, list[tuple[int, float]]] = {}
    for n_queries, lr, weight_decay in itertools.product(
        config.queries, config.lrs, config.weight_decays
    ):
        torch.manual_seed(seed)
        head = AttentivePooler(train[0].dim, n_queries, train[1].shape[1], config.heads)
        head = head.to(device)
        curve = curves.setdefault(setting_name(n_queries, lr, weight_decay), [])
        fit = (train[0], labels, objective, lr, weight_decay)
        for epoch in _train(head, fit, config, device, seed):
            val_scores = predict(head, val[0], objective, device, config.batch_size)
            score = objective.score(val[1], val_scores)
            curve.append((epoch, score))
            if best is None or score > best[0]:
                chosen = {"queries": n_queries, "lr": lr, "weight_decay": weight_decay}
                state = copy.deepcopy(head.state_dict())
                best = (score, {**chosen, "epochs": epoch}, state, val_scores)
    assert best is not None
    _, chosen, state, val_scores = best
    head = AttentivePooler(train[0].dim, chosen["queries"], train[1].shape[1], config.heads)
    head.load_state_dict(state)
    head = head.to(device)
    details = {"best": chosen, "val_curves": curves}
    return AttentiveResult(
        val_scores=val_scores,
        test_scores=predict(head, test_tokens, objective, device, config.batch_size),
        details=details,
        extra_scores=tuple(
            predict(head, tokens, objective, device, config.batch_size) for tokens in extra_tokens
        ),
    )


def _train(
    head: AttentivePooler,
    fit: tuple[RecordTokens, Tensor, Objective, float, float],
    config: AttentiveConfig,
    device: torch.device,
    seed: int,
) -> Iterator[int]:
    """Train ``head`` on ``fit`` = (tokens, labels, objective, lr, weight decay) for the
    longest of ``config.epochs``; yields each epoch count of the grid once it is reached."""
    tokens, labels, objective, lr, weight_decay = fit
    if len(tokens) < 2:
        raise ConfigError("the attentive probe needs at least 2 labelled records")
    optimizer = torch.optim.AdamW(parameter_groups(head, weight_decay), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    per_epoch = len(batches(len(tokens), config.batch_size))
    checks = sorted(set(config.epochs))
    step = 0
    for epoch in range(1, checks[-1] + 1):
        head.train()
        order = torch.randperm(len(tokens), generator=generator).numpy()
        for rows in batches(len(tokens), config.batch_size, order):
            for group in optimizer.param_groups:
                group["lr"] = lr * min(1.0, (step + 1) / per_epoch)  # warm-up: the first epoch
            x, padding = tokens.batch(rows, device)
            optimizer.zero_grad(set_to_none=True)
            objective.loss(head(x, padding), labels[rows]).backward()
            optimizer.step()
            step += 1
        if epoch in checks:
            head.calibrate(tokens, device, config.batch_size)
            yield epoch


def setting_name(n_queries: int, lr: float, weight_decay: float) -> str:
    """'q=4,lr=0.001,wd=0.05': one head setting as the selection details name it."""
    return f"q={n_queries},lr={lr:g},wd={weight_decay:g}"


@torch.no_grad()
def predict(
    head: AttentivePooler,
    tokens: RecordTokens,
    objective: Objective,
    device: torch.device,
    batch_size: int,
) -> np.ndarray:
    """The head's outputs (probabilities, or predictions in the targets' units) per record."""
    head.eval()
    outputs = []
    for rows in batches(len(tokens), batch_size):
        batch, padding = tokens.batch(rows, device)
        outputs.append(objective.output(head(batch, padding).float()).cpu().numpy())
    return np.concatenate(outputs).astype(np.float32)
