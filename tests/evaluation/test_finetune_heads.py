"""Fine-tuning heads named by a method's paper, the one-cycle schedule, and their keys."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from bench.errors import ConfigError
from bench.evaluation.config import FinetuneConfig
from bench.evaluation.finetune import (
    Classifier,
    WindowedEval,
    _one_cycle,
    finetune,
    finetune_optimizer,
    head_spec,
)
from bench.method import HeadSpec

pytestmark = pytest.mark.numeric

CPU = torch.device("cpu")
CPC_HEAD = HeadSpec(hidden=512, input_dropout=0.25, dropout=0.5)


class MeanEncoder(nn.Module):
    """A linear encoder over lead means (embed_dim 6)."""

    def __init__(self, leads: int = 3) -> None:
        super().__init__()
        self.proj = nn.Linear(leads, 6)
        self.embed_dim = 6

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x.mean(-1))


def test_head_choice_follows_the_config_and_the_method() -> None:
    assert head_spec(FinetuneConfig(), CPC_HEAD) == CPC_HEAD  # default "method"
    assert head_spec(FinetuneConfig(), None) is None  # a method naming none: linear
    assert head_spec(FinetuneConfig(head="linear"), CPC_HEAD) is None
    mlp = FinetuneConfig(head="mlp", hidden=64, input_dropout=0.1, dropout=0.3)
    assert head_spec(mlp, None) == head_spec(mlp, CPC_HEAD) == HeadSpec(64, 0.1, 0.3)
    with pytest.raises(ConfigError, match="input_dropout"):
        FinetuneConfig(input_dropout=1.0)


def test_paper_head_is_bn_dropout_linear_relu_bn_dropout_linear() -> None:
    model = Classifier(MeanEncoder(), n_classes=5, head=CPC_HEAD)  # type: ignore[arg-type]
    layers = list(model.head)
    kinds = [type(layer) for layer in layers]
    assert kinds == [
        nn.BatchNorm1d, nn.Dropout, nn.Linear, nn.ReLU, nn.BatchNorm1d, nn.Dropout, nn.Linear
    ]  # fmt: skip
    bn_in, drop_in, hidden, _, bn_hidden, drop_hidden, out = layers
    assert bn_in.num_features == 6 and bn_in.affine
    assert drop_in.p == 0.25 and drop_hidden.p == 0.5
    assert (hidden.in_features, hidden.out_features) == (6, 512)
    assert bn_hidden.num_features == 512
    assert (out.in_features, out.out_features) == (512, 5)
    assert model(torch.randn(8, 3, 20)).shape == (8, 5)
    linear = Classifier(MeanEncoder(), n_classes=5)  # type: ignore[arg-type]
    assert [type(layer) for layer in linear.head] == [nn.BatchNorm1d, nn.Linear]


def test_one_cycle_follows_fastai_defaults_per_parameter_group() -> None:
    config = FinetuneConfig(schedule="one_cycle", lr=1e-2, warmup_fraction=0.3)
    model = Classifier(MeanEncoder(), 2, CPC_HEAD)  # type: ignore[arg-type]
    optimizer = finetune_optimizer(model, config, encoder_scale=0.1, device=CPU)
    total = 100
    scheduler = _one_cycle(optimizer, config, total)
    lrs, betas = [], []
    for step in range(total):
        lrs.append([group["lr"] / config.lr for group in optimizer.param_groups])
        betas.append(optimizer.param_groups[0]["betas"][0])
        optimizer.step()
        if step + 1 < total:
            scheduler.step()
    head, encoder = (
        np.array([row[i] for row in lrs]) for i in (0, len(optimizer.param_groups) - 1)
    )
    assert head[0] == pytest.approx(1 / 25) and encoder[0] == pytest.approx(0.1 / 25)
    peak = int(np.argmax(head))
    assert peak == round(0.3 * total) - 1 and head[peak] == pytest.approx(1.0)
    assert head[-1] == pytest.approx(1 / 25e4, rel=1e-6)
    np.testing.assert_allclose(encoder, 0.1 * head, rtol=1e-9)
    middle = peak + (total - 1 - peak) // 2  # cosine annealing from 1 down to 1 / 25e4
    t = (middle - peak) / (total - 1 - peak)
    assert head[middle] == pytest.approx(
        1 / 25e4 + (1 - 1 / 25e4) * (1 + math.cos(math.pi * t)) / 2
    )
    assert betas[0] == pytest.approx(0.95) and betas[peak] == pytest.approx(0.85)
    assert betas[-1] == pytest.approx(0.95)


def lead_offset_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = (rng.random((n, 2)) < 0.5).astype(np.float32)
    signals = rng.standard_normal((n, 3, 60)).astype(np.float32) * 0.5
    signals[:, 0] += 2 * labels[:, :1]
    signals[:, 1] -= 2 * labels[:, 1:]
    return signals, labels


@pytest.mark.parametrize("schedule", ["cosine", "one_cycle"])
def test_finetune_learns_with_the_named_head_and_either_schedule(schedule: Any) -> None:
    train, val, test = lead_offset_data(64, 0), lead_offset_data(40, 1), lead_offset_data(40, 2)
    config = FinetuneConfig(
        epochs=1, min_steps=60, evaluations=3, patience=3, lr=0.02, schedule=schedule
    )
    windows = WindowedEval(window=20, stride=20, aggregate="max", batch_size=64)
    torch.manual_seed(0)
    result = finetune(
        MeanEncoder(),  # type: ignore[arg-type]
        train,
        val,
        test[0],
        config,
        windows,
        CPU,
        seed=0,
        progress=False,
        named_head=HeadSpec(hidden=16),
    )
    from sklearn.metrics import roc_auc_score

    assert result.steps == 60
    assert roc_auc_score(test[1], result.test_scores, average="macro") > 0.9
