"""Small fine-tuning runs shared by the fine-tuning speed and two-stage tests: an encoder
with batch norm and dropout, learnable two-class labels, ndarray and Ragged folds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from bench.data.formats.ragged import Ragged
from bench.encoders.base import Encoder, InputSpec
from bench.evaluation.config import FinetuneConfig
from bench.evaluation.finetune import FinetuneResult, WindowedEval, finetune
from tests.doubles.toys import toy_signals

CPU = torch.device("cpu")
SPEC = InputSpec(n_leads=3, n_samples=32, sampling_rate=16)
WINDOWS = WindowedEval(window=32, stride=16, aggregate="mean", batch_size=8)


@dataclass(frozen=True)
class NormConfig:
    """Width and dropout of ``NormEncoder``."""

    hidden: int = 8
    dropout: float = 0.2


class NormEncoder(Encoder):
    """Conv1d -> BatchNorm -> ReLU -> dropout; ``embed`` is the time mean."""

    config_class: ClassVar[type[Any]] = NormConfig

    def __init__(self, config: NormConfig, input_spec: InputSpec):
        super().__init__(config, input_spec)
        self.conv = nn.Conv1d(input_spec.n_leads, config.hidden, kernel_size=5, padding=2)
        self.norm = nn.BatchNorm1d(config.hidden)
        self.dropout = nn.Dropout(config.dropout)
        self.embed_dim = config.hidden
        self.feature_dim = config.hidden

    def features(self, x: Tensor) -> Tensor:
        """[B, leads, T] -> [B, T, hidden]."""
        return self.dropout(torch.relu(self.norm(self.conv(x)))).transpose(1, 2)

    @property
    def feature_stride(self) -> int:
        return 1

    def embed(self, x: Tensor) -> Tensor:
        return self.features(x).mean(1)


def labels_of(signals: np.ndarray) -> np.ndarray:
    """Two learnable classes: the first lead's mean above zero, the second lead's energy above
    the median."""
    energy = (signals[:, 1] ** 2).mean(-1)
    return np.stack([signals[:, 0].mean(-1) > 0, energy > np.median(energy)], axis=1).astype(
        np.float32
    )


def folds() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray], Ragged]:
    """Training (36 records) and validation (12) folds of 64 samples, and a Ragged test fold
    of 12 records of 64, 48 and 20 samples (the last shorter than the window)."""
    signals = toy_signals(n_records=60, length=64, seed=5)
    labels = labels_of(signals)
    lengths = [64, 48, 20] * 4
    test = Ragged.from_records([signals[48 + i, :, :n] for i, n in enumerate(lengths)], n_leads=3)
    return (signals[:36], labels[:36]), (signals[36:48], labels[36:48]), test


def encoder(seed: int = 0) -> NormEncoder:
    """A fresh ``NormEncoder`` (its initialisation seeded)."""
    torch.manual_seed(seed)
    return NormEncoder(NormConfig(), SPEC)


def config(**overrides: Any) -> FinetuneConfig:
    """A short fine-tune that evaluates four times, with the MLP head (dropout)."""
    values: dict[str, Any] = dict(
        epochs=2, min_steps=12, batch_size=8, lr=1e-2, encoder_lr_scale=0.5, evaluations=4,
        patience=2, head="mlp", hidden=16, warmup_fraction=0.1,
    )  # fmt: skip
    return FinetuneConfig(**{**values, **overrides})


def run(finetune_config: FinetuneConfig, start: Encoder | None = None, **kwargs: Any):
    """``finetune`` on ``folds()`` with seed 3; returns the result."""
    train, val, test = folds()
    result: FinetuneResult = finetune(
        start if start is not None else encoder(),
        train,
        val,
        test,
        finetune_config,
        WINDOWS,
        CPU,
        seed=3,
        progress=False,
        **kwargs,
    )
    return result
