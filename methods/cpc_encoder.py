"""CPC's own encoder (Mehari & Strodthoff, arXiv 2103.12676): per-step MLP + unidirectional LSTM.

``g_enc`` maps every time step's lead vector on its own: ``encoder_layers`` kernel-1 convolutions
(a fully connected layer applied per time step) of ``width`` channels, each followed by batch
norm and ReLU. ``g_ar`` is a ``lstm_layers``-layer unidirectional LSTM of ``hidden`` units over
those encodings, so the context at time t sees only steps <= t (in eval mode; in training mode
batch norm's batch statistics mix information across the batch and all time steps). ``embed`` is
the paper's downstream head input: concat pooling of the LSTM outputs over time (mean, max, last)
-> [B, 3 * hidden]. ``features`` are the LSTM outputs, one step per input sample (stride 1):
[B, T, hidden]; each step combines all leads (the per-step MLP mixes them).

This encoder belongs to the ``cpc`` method and is not one of the shared backbones in
``bench.encoders`` (so it is not in the ``ENCODERS`` registry); checkpoints rebuild it through
the method.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from bench.config import check_range
from bench.encoders.base import Encoder, InputSpec
from bench.errors import ConfigError


@dataclass(frozen=True)
class CPCEncoderConfig:
    """Sizes of CPC's encoder (defaults = ``tiny``; the paper's size is ``paper``: 512 / 512)."""

    width: int = 64
    hidden: int = 64
    encoder_layers: int = 4
    lstm_layers: int = 2

    def __post_init__(self) -> None:
        for name in ("width", "hidden", "encoder_layers", "lstm_layers"):
            check_range(f"cpc.{name}", getattr(self, name), 1)


CPC_ENCODER_SIZES: dict[str, CPCEncoderConfig] = {
    "tiny": CPCEncoderConfig(),
    "paper": CPCEncoderConfig(width=512, hidden=512),
}
"""Named sizes: ``tiny`` for CPU tests and smoke runs, ``paper`` (512-d encoder and LSTM)."""


class CPCEncoder(Encoder):
    """Per-time-step MLP with batch norm, then a unidirectional LSTM; embed = concat pooling."""

    config_class: ClassVar[type[CPCEncoderConfig]] = CPCEncoderConfig
    sizes: ClassVar[dict[str, CPCEncoderConfig]] = CPC_ENCODER_SIZES
    config: CPCEncoderConfig

    def __init__(self, config: CPCEncoderConfig, input_spec: InputSpec):
        super().__init__(config, input_spec)
        layers: list[nn.Module] = []
        channels = input_spec.n_leads
        for _ in range(config.encoder_layers):
            layers += [
                nn.Conv1d(channels, config.width, kernel_size=1, bias=False),
                nn.BatchNorm1d(config.width),
                nn.ReLU(inplace=True),
            ]
            channels = config.width
        self.step_encoder = nn.Sequential(*layers)
        self.context = nn.LSTM(
            config.width, config.hidden, num_layers=config.lstm_layers, batch_first=True
        )
        self.embed_dim = 3 * config.hidden
        self.feature_dim = config.hidden

    def encode(self, x: Tensor) -> Tensor:
        """g_enc: [B, leads, T] -> encodings z [B, T, width], one per time step."""
        if x.dim() != 3 or x.shape[1] != self.input_spec.n_leads:
            raise ConfigError(
                f"cpc encoder: expected input [batch, {self.input_spec.n_leads} leads, samples], "
                f"got {tuple(x.shape)}"
            )
        return self.step_encoder(x).transpose(1, 2)

    def contexts(self, encodings: Tensor) -> Tensor:
        """g_ar: encodings [B, T, width] -> LSTM outputs c [B, T, hidden] (causal in time)."""
        outputs, _ = self.context(encodings)
        return outputs

    def features(self, x: Tensor) -> Tensor:
        """The contexts, one per time step: [B, leads, T] -> [B, T, hidden]."""
        return self.contexts(self.encode(x))

    @property
    def feature_stride(self) -> int:
        """One feature step per input sample."""
        return 1

    def embed(self, x: Tensor) -> Tensor:
        """Concat pooling of the contexts over time: [mean, max, last] -> [B, 3 * hidden]."""
        contexts = self.features(x)
        return torch.cat([contexts.mean(dim=1), contexts.amax(dim=1), contexts[:, -1]], dim=1)

    def forward(self, x: Tensor) -> Tensor:
        """Same as ``embed``."""
        return self.embed(x)
