"""xresnet1d: the 1-D "bag of tricks" ResNet, the PTB-XL benchmark's strongest supervised model.

Facts from the PTB-XL benchmark (Strodthoff et al. 2021) and its public code: a stem of three
conv-BN-ReLU layers (channels 32, 32, 64; kernel 5; stride 2 on the first) and a max-pool
(kernel 3, stride 2); then stages of bottleneck blocks (1x1 -> kernel-5 -> 1x1 convs, expansion
4, all stages 64 wide in that code, so 256 output channels), stride 2 at the middle conv of each
stage's first block except the first stage; the shortcut average-pools (2, ceil mode) before a
1x1 conv-BN when the shape changes; the last BN of every block starts at zero so each block
starts as the identity; convs use Kaiming-normal init. ``xresnet1d50`` has blocks [3, 4, 6, 3],
``xresnet1d101`` [3, 4, 23, 3]. ``embed`` is concat pooling over time (adaptive average, then
adaptive max) -> [B, 2 * channels]. Any input length works (ceil-mode pooling on the shortcut).
``features`` is the last stage's map, time first: [B, ceil(T / feature_stride), channels] with
``feature_stride`` = 4 (stem conv and max-pool) * 2 per stage after the first (32 for 4 stages).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from bench.config import check_range
from bench.encoders.base import ENCODERS, Encoder, InputSpec
from bench.errors import ConfigError


@dataclass(frozen=True)
class XResNet1dConfig:
    """Depth and widths of an xresnet1d (defaults = the ``tiny`` size).

    ``blocks[i]`` bottleneck blocks of inner width ``widths[i]`` (output ``widths[i] *
    expansion`` channels) form stage ``i``; the kernel sizes must be odd.
    """

    blocks: tuple[int, ...] = (1, 1, 1, 1)
    widths: tuple[int, ...] = (32, 32, 32, 32)
    expansion: int = 4
    kernel_size: int = 5
    stem_channels: tuple[int, int, int] = (16, 16, 32)
    stem_kernel_size: int = 5

    def __post_init__(self) -> None:
        where = "XResNet1dConfig"
        if not self.blocks or len(self.blocks) != len(self.widths):
            raise ConfigError(
                f"{where}.blocks {self.blocks} and widths {self.widths} must be non-empty and "
                "of the same length (one entry per stage)"
            )
        for name, values in (
            ("blocks", self.blocks),
            ("widths", self.widths),
            ("stem_channels", self.stem_channels),
        ):
            for i, value in enumerate(values):
                check_range(f"{where}.{name}[{i}]", value, 1)
        check_range(f"{where}.expansion", self.expansion, 1)
        for name in ("kernel_size", "stem_kernel_size"):
            size = getattr(self, name)
            if size < 1 or size % 2 == 0:
                raise ConfigError(f"{where}.{name} = {size} must be a positive odd number")


XRESNET1D_SIZES: dict[str, XResNet1dConfig] = {
    "tiny": XResNet1dConfig(),
    "xresnet1d50": XResNet1dConfig(
        blocks=(3, 4, 6, 3), widths=(64, 64, 64, 64), stem_channels=(32, 32, 64)
    ),
    "xresnet1d101": XResNet1dConfig(
        blocks=(3, 4, 23, 3), widths=(64, 64, 64, 64), stem_channels=(32, 32, 64)
    ),
}
"""Named sizes: ``tiny`` for CPU tests and smoke runs, and the benchmark's two references."""


def conv_bn(
    in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, relu: bool = True
) -> nn.Sequential:
    """Conv1d (no bias, 'same' padding) -> BatchNorm1d -> optional ReLU."""
    layers: list[nn.Module] = [
        nn.Conv1d(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=kernel_size // 2,
            bias=False,
        ),
        nn.BatchNorm1d(out_channels),
    ]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class Bottleneck(nn.Module):
    """1x1 -> kernel_size (strided) -> 1x1 convs plus an avg-pool/1x1 shortcut, then ReLU."""

    def __init__(
        self, in_channels: int, width: int, out_channels: int, stride: int, kernel_size: int
    ):
        super().__init__()
        self.path = nn.Sequential(
            conv_bn(in_channels, width, 1),
            conv_bn(width, width, kernel_size, stride=stride),
            conv_bn(width, out_channels, 1, relu=False),
        )
        nn.init.zeros_(self.path[-1][1].weight)  # block starts as the identity
        shortcut: list[nn.Module] = []
        if stride != 1:
            shortcut.append(nn.AvgPool1d(stride, ceil_mode=True))
        if in_channels != out_channels:
            shortcut.append(conv_bn(in_channels, out_channels, 1, relu=False))
        self.shortcut = nn.Sequential(*shortcut)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.path(x) + self.shortcut(x))


@ENCODERS.register("xresnet1d")
class XResNet1d(Encoder):
    """1-D xresnet, the PTB-XL benchmark's supervised reference; embed = concat pooling."""

    config_class: ClassVar[type[XResNet1dConfig]] = XResNet1dConfig
    sizes: ClassVar[dict[str, XResNet1dConfig]] = XRESNET1D_SIZES
    config: XResNet1dConfig

    def __init__(self, config: XResNet1dConfig, input_spec: InputSpec):
        super().__init__(config, input_spec)
        stem_in = (input_spec.n_leads, *config.stem_channels[:-1])
        stem: list[nn.Module] = [
            conv_bn(c_in, c_out, config.stem_kernel_size, stride=2 if i == 0 else 1)
            for i, (c_in, c_out) in enumerate(zip(stem_in, config.stem_channels, strict=True))
        ]
        stem.append(nn.MaxPool1d(3, stride=2, padding=1))
        stages: list[nn.Module] = []
        channels = config.stem_channels[-1]
        for stage, (n_blocks, width) in enumerate(zip(config.blocks, config.widths, strict=True)):
            out_channels = width * config.expansion
            for i in range(n_blocks):
                stride = 2 if stage > 0 and i == 0 else 1
                stages.append(Bottleneck(channels, width, out_channels, stride, config.kernel_size))
                channels = out_channels
        self.stem = nn.Sequential(*stem)
        self.stages = nn.Sequential(*stages)
        self.channels = channels
        self.embed_dim = 2 * channels
        self.feature_dim = channels
        for module in self.modules():
            if isinstance(module, nn.Conv1d):
                nn.init.kaiming_normal_(module.weight)

    def feature_map(self, x: Tensor) -> Tensor:
        """Feature map [B, leads, samples] -> [B, channels, ceil(samples / feature_stride)]."""
        if x.dim() != 3 or x.shape[1] != self.input_spec.n_leads:
            raise ConfigError(
                f"xresnet1d: expected input [batch, {self.input_spec.n_leads} leads, samples], "
                f"got {tuple(x.shape)}"
            )
        return self.stages(self.stem(x))

    def embed(self, x: Tensor) -> Tensor:
        """Concat pooling over time: [average, max] of the feature map -> [B, 2 * channels]."""
        feature_map = self.feature_map(x)
        return torch.cat([feature_map.mean(dim=-1), feature_map.amax(dim=-1)], dim=1)

    def features(self, x: Tensor) -> Tensor:
        """The feature map, time first: [B, ceil(samples / feature_stride), channels]."""
        return self.feature_map(x).transpose(1, 2)

    @property
    def feature_stride(self) -> int:
        """Samples per feature step: 4 (stem) times 2 per stage after the first."""
        return 4 * 2 ** (len(self.config.blocks) - 1)

    def forward(self, x: Tensor) -> Tensor:
        """Same as ``embed``."""
        return self.embed(x)
