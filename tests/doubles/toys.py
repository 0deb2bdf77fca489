"""Test doubles of the engine: a tiny masked-reconstruction method with dropout and an EMA
buffer, registered for the duration of a test by the ``toys`` fixture, and small signals."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from bench.config import check_range
from bench.encoders.base import Encoder, InputSpec
from bench.method import METHODS, Method
from bench.training.state import seed_everything


@dataclass(frozen=True)
class ToyConfig:
    """Width, dropout and the share of time steps hidden from the encoder."""

    hidden: int = 16
    dropout: float = 0.1
    mask_ratio: float = 0.5

    def __post_init__(self) -> None:
        check_range("toy.mask_ratio", self.mask_ratio, 0.0, 0.95)


class ToyEncoder(Encoder):
    """Conv1d + LayerNorm + dropout; ``embed`` is the time-mean of the features."""

    config_class = ToyConfig

    def __init__(self, config: ToyConfig, input_spec: InputSpec):
        super().__init__(config, input_spec)
        self.conv = nn.Conv1d(input_spec.n_leads, config.hidden, kernel_size=5, padding=2)
        self.norm = nn.LayerNorm(config.hidden)
        self.dropout = nn.Dropout(config.dropout)
        self.embed_dim = config.hidden
        self.feature_dim = config.hidden

    def feature_map(self, x: Tensor) -> Tensor:
        """[B, leads, T] -> [B, hidden, T]."""
        h = self.norm(self.conv(x).transpose(1, 2)).transpose(1, 2)
        return self.dropout(torch.relu(h))

    def features(self, x: Tensor) -> Tensor:
        """[B, leads, T] -> [B, T, hidden]."""
        return self.feature_map(x).transpose(1, 2)

    @property
    def feature_stride(self) -> int:
        return 1

    def embed(self, x: Tensor) -> Tensor:
        return self.feature_map(x).mean(-1)


class ToyMethod(Method):
    """Masked reconstruction with random time masks (exercises the global RNG) and an EMA
    copy of the encoder updated in ``on_step_end`` (a buffer, so it is checkpointed)."""

    name: ClassVar[str] = "toy_masked"
    config_class: ClassVar[type[ToyConfig]] = ToyConfig

    def __init__(self, config: ToyConfig, input_spec: InputSpec):
        super().__init__(config, input_spec)
        self.encoder = ToyEncoder(config, input_spec)
        self.decoder = nn.Conv1d(config.hidden, input_spec.n_leads, kernel_size=1)
        self.register_buffer("ema_conv", self.encoder.conv.weight.detach().clone())
        self.steps_seen: list[tuple[int, int]] = []

    def loss(self, batch: Tensor) -> dict[str, Tensor]:
        keep = (
            torch.rand(batch.shape[0], 1, batch.shape[-1], device=batch.device)
            >= (self.config.mask_ratio)
        ).to(batch.dtype)
        reconstruction = self.decoder(self.encoder.feature_map(batch * keep))
        error = (reconstruction.float() - batch) ** 2
        masked = (error * (1 - keep)).sum() / ((1 - keep).sum() * batch.shape[1]).clamp(min=1)
        return {"loss": masked, "visible": (error * keep).mean().detach()}

    def on_step_end(self, step: int, total_steps: int) -> None:
        self.steps_seen.append((step, total_steps))
        self.ema_conv.mul_(0.9).add_(self.encoder.conv.weight, alpha=0.1)


def toy_signals(
    n_records: int = 48, n_leads: int = 3, length: int = 64, seed: int = 0
) -> np.ndarray:
    """Smooth multi-lead sine mixtures with a little noise, float32 [N, leads, T]."""
    rng = np.random.default_rng(seed)
    t = np.arange(length) / 16
    phase = rng.uniform(0, 2 * np.pi, (n_records, n_leads, 1))
    freq = rng.uniform(0.5, 2.0, (n_records, 1, 1))
    signals = np.sin(2 * np.pi * freq * t + phase) + 0.05 * rng.standard_normal(
        (n_records, n_leads, length)
    )
    return signals.astype(np.float32)


TOY_SPEC = InputSpec(n_leads=3, n_samples=32, sampling_rate=16)


@dataclass(frozen=True)
class Toys:
    """The engine's test doubles, handed to tests by the ``toys`` fixture."""

    method: type[ToyMethod]
    config: type[ToyConfig]
    spec: InputSpec
    signals: Callable[..., np.ndarray]

    def build(self, seed: int = 0, **config: float) -> ToyMethod:
        """A ToyMethod initialised under ``seed``."""
        seed_everything(seed)
        return self.method(self.config(**config), self.spec)


@pytest.fixture
def toys(monkeypatch: pytest.MonkeyPatch) -> Toys:
    """The test doubles, with ToyMethod registered in METHODS for this test only."""
    METHODS.names()  # discover the real plugins first, so ours is not overwritten
    monkeypatch.setitem(METHODS._items, ToyMethod.name, ToyMethod)
    return Toys(ToyMethod, ToyConfig, TOY_SPEC, toy_signals)
