"""Fine-tuning objectives per kind: losses, outputs in the targets' units, oriented selection."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from bench.evaluation.config import FinetuneConfig
from bench.evaluation.finetune import WindowedEval, finetune
from bench.evaluation.objectives import MULTILABEL, Objective

pytestmark = pytest.mark.numeric


def test_losses_and_outputs_per_kind() -> None:
    logits = torch.tensor([[2.0, -1.0], [0.5, 0.5]])
    multiclass = Objective("multiclass", "accuracy")
    targets = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    expected = torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1]))
    assert multiclass.loss(logits, targets) == pytest.approx(float(expected))
    np.testing.assert_allclose(multiclass.output(logits).sum(1), 1.0, rtol=1e-6)
    regression = Objective.for_task("regression", "mae", np.array([[50.0], [70.0]]))
    assert regression.target_mean == (60.0,) and regression.target_sd == (10.0,)
    assert float(regression.output(torch.tensor([[1.0]]))) == pytest.approx(70.0)
    assert float(regression.loss(torch.tensor([[1.0]]), torch.tensor([[70.0]]))) == 0.0
    huber = Objective("regression", "mae", (0.0,), (1.0,), huber_delta=1.0)
    assert float(huber.loss(torch.tensor([[3.0]]), torch.tensor([[0.0]]))) == pytest.approx(2.5)
    assert MULTILABEL.score(np.array([[0], [1]]), np.array([[0.2], [0.9]])) == 1.0


def test_selection_score_is_oriented_higher_is_better() -> None:
    y = np.array([[1.0], [2.0], [3.0]])
    regression = Objective.for_task("regression", "mae", y)
    assert regression.score(y, y + 1.0) == pytest.approx(-1.0)
    assert regression.score(y, y) > regression.score(y, y + 1.0)


class MeanEncoder(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(3, 4)
        self.embed_dim = 4

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x.mean(-1))


def regression_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    target = rng.uniform(40, 80, n)
    signals = rng.standard_normal((n, 3, 20)).astype(np.float32) * 0.3
    signals[:, 0] += ((target - 60) / 10)[:, None]
    return signals, target[:, None].astype(np.float32)


def test_finetune_regression_learns_in_target_units() -> None:
    torch.manual_seed(0)
    encoder: Any = MeanEncoder()
    train, val, test = regression_data(128, 0), regression_data(40, 1), regression_data(40, 2)
    config = FinetuneConfig(epochs=1, min_steps=150, evaluations=5, patience=5, lr=0.05)
    windows = WindowedEval(window=20, stride=20, aggregate="mean", batch_size=64)
    objective = Objective.for_task("regression", "mae", train[1])
    result = finetune(
        encoder, train, val, test[0], config, windows, torch.device("cpu"), seed=0,
        progress=False, objective=objective,
    )  # fmt: skip
    assert np.abs(result.test_scores - test[1]).mean() < 3.0  # targets span 40 bpm
    assert all(score <= 0 for _, score in result.val_curve)  # the curve holds -MAE
