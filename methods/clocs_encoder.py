"""CLOCS's encoder (Kiyasseh, Zhu & Clifton, ICML 2021): a small CNN over one lead at a time.

Every lead of every segment is encoded on its own (one input channel, shared weights): three
blocks Conv1d(kernel 7, stride 3, no padding) -> BatchNorm -> ReLU -> MaxPool(2) -> Dropout
(0.1) with 4, 16 and 32 channels, flattened and mapped by one linear layer to an
``embedding_dim`` vector (facts from the reference code, danikiyasseh/CLOCS,
prepare_network.py: cnn_network_contrastive). Each segment is first min-max scaled to [0, 1]
(the reference's normalize_frame). The linear layer fixes the segment length: a window is cut
into ``segments`` equal segments (any samples left over at its end are dropped).

``segment_embeddings`` gives [B, leads, segments, embedding_dim]. ``embed`` averages the
segments and concatenates the leads: [B, leads * embedding_dim] (a documented choice: the
reference evaluates single-lead frames). ``features`` is one step per segment
(``feature_stride`` = the segment length): [B, ceil(T / segment), leads * embedding_dim], a
trailing partial segment repeating the last full one.

This encoder belongs to the ``clocs`` method and is not one of the shared backbones in
``bench.encoders``; checkpoints rebuild it through the method.
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
class CLOCSEncoderConfig:
    """Sizes of CLOCS's CNN (defaults: the reference code's) and the window's ``segments``."""

    channels: tuple[int, ...] = (4, 16, 32)
    kernel_size: int = 7
    stride: int = 3
    pool: int = 2
    dropout: float = 0.1
    embedding_dim: int = 128
    segments: int = 1
    minmax: bool = True

    def __post_init__(self) -> None:
        where = "clocs"
        if not self.channels:
            raise ConfigError(f"{where}.channels must list at least one convolution's width")
        for i, width in enumerate(self.channels):
            check_range(f"{where}.channels[{i}]", width, 1)
        for name in ("kernel_size", "stride", "pool", "embedding_dim", "segments"):
            check_range(f"{where}.{name}", getattr(self, name), 1)
        check_range(f"{where}.dropout", self.dropout, 0.0, 0.99)

    def output_length(self, samples: int) -> int:
        """Time steps left after the convolution blocks from a ``samples``-long segment."""
        for _ in self.channels:
            samples = (samples - self.kernel_size) // self.stride + 1
            samples = samples // self.pool if samples > 0 else 0
        return samples

    def shortest_segment(self) -> int:
        """The fewest samples a segment needs for one step after the last block."""
        samples = 1
        for _ in self.channels:
            samples = (samples * self.pool - 1) * self.stride + self.kernel_size
        return samples


def minmax_scale(x: Tensor) -> Tensor:
    """Each row of ``x`` [..., T] scaled to [0, 1] (a flat row becomes 0), as the reference."""
    low = x.amin(dim=-1, keepdim=True)
    return (x - low) / (x.amax(dim=-1, keepdim=True) - low + 1e-8)


class CLOCSEncoder(Encoder):
    """Per-lead, per-segment CNN with a linear embedding; embed = leads' segment means, concat."""

    config_class: ClassVar[type[CLOCSEncoderConfig]] = CLOCSEncoderConfig
    config: CLOCSEncoderConfig

    def __init__(self, config: CLOCSEncoderConfig, input_spec: InputSpec):
        super().__init__(config, input_spec)
        self.segment_length = input_spec.n_samples // config.segments
        steps = config.output_length(self.segment_length)
        if steps < 1:
            raise ConfigError(
                f"clocs: a window of {input_spec.n_samples} samples cut into {config.segments} "
                f"segment(s) gives {self.segment_length}-sample segments, too short for "
                f"{len(config.channels)} blocks of kernel {config.kernel_size}, stride "
                f"{config.stride} and pool {config.pool} (they need at least "
                f"{config.shortest_segment()} samples); lower clocs.stride or kernel_size, or "
                "lengthen window_s or raise the sampling rate"
            )
        blocks: list[nn.Module] = []
        width = 1
        for channels in config.channels:
            blocks += [
                nn.Conv1d(width, channels, config.kernel_size, config.stride),
                nn.BatchNorm1d(channels),
                nn.ReLU(),
                nn.MaxPool1d(config.pool),
                nn.Dropout(config.dropout),
            ]
            width = channels
        self.blocks = nn.Sequential(*blocks)
        self.linear = nn.Linear(width * steps, config.embedding_dim)
        self.embed_dim = input_spec.n_leads * config.embedding_dim
        self.feature_dim = self.embed_dim

    def segment_embeddings(self, x: Tensor) -> Tensor:
        """[B, leads, T] -> [B, leads, T // segment_length, embedding_dim], each lead and
        segment encoded on its own."""
        if x.dim() != 3 or x.shape[1] != self.input_spec.n_leads:
            raise ConfigError(
                f"clocs encoder: expected input [batch, {self.input_spec.n_leads} leads, "
                f"samples], got {tuple(x.shape)}"
            )
        batch, leads, length = x.shape
        count = length // self.segment_length
        if count < 1:
            raise ConfigError(
                f"clocs encoder: {length} samples are shorter than one "
                f"{self.segment_length}-sample segment"
            )
        segments = x[..., : count * self.segment_length].reshape(-1, 1, self.segment_length)
        if self.config.minmax:
            segments = minmax_scale(segments)
        embedded = self.linear(self.blocks(segments).flatten(1))
        return embedded.reshape(batch, leads, count, -1)

    def embed(self, x: Tensor) -> Tensor:
        """Mean over segments, leads concatenated: [B, leads * embedding_dim]."""
        return self.segment_embeddings(x).mean(dim=2).flatten(1)

    def features(self, x: Tensor) -> Tensor:
        """One step per segment: [B, ceil(T / segment_length), leads * embedding_dim]."""
        steps = self.segment_embeddings(x).transpose(1, 2).flatten(2)
        missing = -(-x.shape[-1] // self.segment_length) - steps.shape[1]
        return torch.cat([steps, steps[:, -1:].expand(-1, missing, -1)], dim=1)

    @property
    def feature_stride(self) -> int:
        """Input samples per feature step: one segment."""
        return self.segment_length

    def forward(self, x: Tensor) -> Tensor:
        """Same as ``embed``."""
        return self.embed(x)
