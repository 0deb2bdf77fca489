"""Net1D, the ECGFounder convolutional network, written here from the official code's behaviour.

Facts (PKUDigitalHealth/ECGFounder, net1d.py and finetune_model.py): every convolution pads
"same" with zeros, ``ceil(L / stride)`` outputs, the odd pad sample on the right; a stem
convolution (``base_filters``, ``kernel_size``, stride 2, with bias) then Swish; stages of
pre-activation bottleneck blocks: Swish -> 1x1 conv -> Swish -> grouped ``kernel_size`` conv
(``channels // groups_width`` groups, stride 2 in each stage's first block) -> Swish -> 1x1
conv, then squeeze-and-excitation (mean over time -> Linear to half -> Swish -> Linear ->
sigmoid, a per-channel gain). The first block of the first stage skips the leading Swish. The
shortcut max-pools (kernel = stride, after padding stride - 1 zeros, the odd one on the
right) in a stage's first block and pads missing channels with zeros, half before and the rest
after. The released models are built with ``use_bn=False, use_do=False``: no batch norm and no
dropout run (the modules exist in the official file but the forward pass skips them, so this
network has none).

``embed``: the mean over time of the last stage (``deep_features``, what the official fine-tune
and linear-probe code feeds its ``dense`` head) -> [B, filters[-1]]. ``features``: the last
stage's map, time first, [B, ceil(samples / feature_stride), filters[-1]], with
``feature_stride`` = 2 (stem) * 2 per stage (256 for the published seven stages).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bench.config import check_range
from bench.encoders.base import InputSpec
from bench.errors import ConfigError
from methods.checkpoints.time_map import TimeMapEncoder


@dataclass(frozen=True)
class Net1DConfig:
    """Widths and depths of a Net1D (defaults: the ``tiny`` size of the conformance fixture).

    ``filters[i]`` output channels and ``blocks[i]`` blocks in stage ``i``; the grouped
    convolution of a stage has ``filters[i] // groups_width`` groups over
    ``int(filters[i] * ratio)`` inner channels.
    """

    base_filters: int = 6
    filters: tuple[int, ...] = (6, 9, 12)
    blocks: tuple[int, ...] = (1, 2, 2)
    kernel_size: int = 8
    stride: int = 2
    groups_width: int = 3
    ratio: float = 1.0

    def __post_init__(self) -> None:
        where = "Net1DConfig"
        if not self.filters or len(self.filters) != len(self.blocks):
            raise ConfigError(
                f"{where}.filters {self.filters} and blocks {self.blocks} must be non-empty and "
                "of the same length (one entry per stage)"
            )
        for name in ("base_filters", "kernel_size", "stride", "groups_width"):
            check_range(f"{where}.{name}", getattr(self, name), 1)
        for filters in self.filters:
            inner = int(filters * self.ratio)
            groups = filters // self.groups_width
            if groups < 1 or inner % groups:
                raise ConfigError(
                    f"{where}: {inner} inner channels cannot form {groups} groups "
                    f"({filters} filters, groups_width {self.groups_width})"
                )


NET1D_SIZES: dict[str, Net1DConfig] = {
    "tiny": Net1DConfig(),
    "net1d": Net1DConfig(
        base_filters=64,
        filters=(64, 160, 160, 400, 400, 1024, 1024),
        blocks=(2, 2, 2, 3, 3, 4, 4),
        kernel_size=16,
        groups_width=16,
    ),
}
"""``net1d``: the released ECGFounder models (12-lead and single-lead); ``tiny``: fixtures."""


def pad_same(x: Tensor, kernel_size: int, stride: int) -> Tensor:
    """Zero-pad time so a window of ``kernel_size`` at ``stride`` gives ceil(L / stride) steps."""
    length = x.shape[-1]
    steps = -(-length // stride)
    total = max(0, (steps - 1) * stride + kernel_size - length)
    return F.pad(x, (total // 2, total - total // 2))


class SameConv(nn.Conv1d):
    """Conv1d with "same" zero padding (the odd pad sample on the right)."""

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(pad_same(x, self.kernel_size[0], self.stride[0]))


class Net1DBlock(nn.Module):
    """Pre-activation bottleneck with squeeze-and-excitation and a max-pool/zero-pad shortcut."""

    def __init__(
        self, in_channels: int, out_channels: int, config: Net1DConfig, stride: int, first: bool
    ):
        super().__init__()
        inner = int(out_channels * config.ratio)
        groups = out_channels // config.groups_width
        self.first = first
        self.stride = stride
        self.in_channels, self.out_channels = in_channels, out_channels
        self.expand = SameConv(in_channels, inner, 1)
        self.spatial = SameConv(inner, inner, config.kernel_size, stride=stride, groups=groups)
        self.project = SameConv(inner, out_channels, 1)
        self.se_squeeze = nn.Linear(out_channels, out_channels // 2)
        self.se_excite = nn.Linear(out_channels // 2, out_channels)

    def forward(self, x: Tensor) -> Tensor:
        out = self.expand(x if self.first else F.silu(x))
        out = self.project(F.silu(self.spatial(F.silu(out))))
        gain = torch.sigmoid(self.se_excite(F.silu(self.se_squeeze(out.mean(-1)))))
        out = out * gain.unsqueeze(-1)
        shortcut = x
        if self.stride > 1:  # zero padding of stride - 1 samples, the odd one on the right
            pad = self.stride - 1
            shortcut = F.max_pool1d(F.pad(x, (pad // 2, pad - pad // 2)), self.stride)
        extra = self.out_channels - self.in_channels
        if extra:
            shortcut = F.pad(shortcut, (0, 0, extra // 2, extra - extra // 2))
        return out + shortcut


class Net1D(TimeMapEncoder):
    """ECGFounder's Net1D without its classifier: embed = mean over time of the last stage."""

    config_class: ClassVar[type[Net1DConfig]] = Net1DConfig
    sizes: ClassVar[dict[str, Net1DConfig]] = NET1D_SIZES
    config: Net1DConfig

    def __init__(self, config: Net1DConfig, input_spec: InputSpec):
        super().__init__(config, input_spec)
        self.stem = SameConv(input_spec.n_leads, config.base_filters, config.kernel_size, stride=2)
        stages: list[nn.Module] = []
        channels = config.base_filters
        stage_shapes = zip(config.filters, config.blocks, strict=True)
        for stage, (filters, n_blocks) in enumerate(stage_shapes):
            blocks = [
                Net1DBlock(
                    channels if i == 0 else filters,
                    filters,
                    config,
                    stride=config.stride if i == 0 else 1,
                    first=stage == 0 and i == 0,
                )
                for i in range(n_blocks)
            ]
            stages.append(nn.Sequential(*blocks))
            channels = filters
        self.stages = nn.Sequential(*stages)
        self.embed_dim = self.feature_dim = channels

    def feature_map(self, x: Tensor) -> Tensor:
        """[B, leads, samples] -> [B, channels, ceil(samples / feature_stride)]."""
        if x.dim() != 3 or x.shape[1] != self.input_spec.n_leads:
            raise ConfigError(
                f"Net1D: expected input [batch, {self.input_spec.n_leads} leads, samples], "
                f"got {tuple(x.shape)}"
            )
        return self.stages(F.silu(self.stem(x)))

    @property
    def feature_stride(self) -> int:
        """2 (stem) times ``stride`` per stage."""
        return 2 * self.config.stride ** len(self.config.filters)

    def forward(self, x: Tensor) -> Tensor:
        """Same as ``embed``."""
        return self.embed(x)
