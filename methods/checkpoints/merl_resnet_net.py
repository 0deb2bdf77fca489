"""MERL's 1-D ResNet (ResNet18-1D), written here from the official code's behaviour.

Facts (cheliu-computation/MERL-ICML2024, utils/resnet1d.py and finetune/models/resnet1d.py):
a stem convolution (kernel 7, stride 2, padding 3, no bias) -> BatchNorm -> ReLU and no
max-pool; four stages of basic blocks (kernel-3 conv, padding 1, no bias -> BN -> ReLU ->
kernel-3 conv -> BN, plus a shortcut that is a strided 1x1 conv -> BN where the shape changes,
else the identity; then ReLU), widths 64, 128, 256, 512, stride 2 in the first block of every
stage but the first. ResNet18 has two blocks per stage.

``embed``: adaptive average pooling over time of the last stage -> [B, widths[-1]], what the
official linear probe (finetune/main_single.py) feeds its ``linear`` layer. ``features``: the
last stage's map, time first, [B, ceil(samples / 16), widths[-1]] (stride 2 in the stem and in
three stages).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from torch import Tensor, nn

from bench.config import check_range
from bench.encoders.base import InputSpec
from bench.errors import ConfigError
from methods.checkpoints.time_map import TimeMapEncoder


@dataclass(frozen=True)
class ResNet1dConfig:
    """Basic-block ResNet: ``blocks[i]`` blocks of ``widths[i]`` channels in stage ``i``
    (defaults: the ``tiny`` size of the conformance fixture)."""

    blocks: tuple[int, ...] = (1, 1, 1, 1)
    widths: tuple[int, ...] = (8, 16, 16, 32)
    stem_kernel_size: int = 7

    def __post_init__(self) -> None:
        where = "ResNet1dConfig"
        if not self.blocks or len(self.blocks) != len(self.widths):
            raise ConfigError(
                f"{where}.blocks {self.blocks} and widths {self.widths} must be non-empty and "
                "of the same length (one entry per stage)"
            )
        for name in ("blocks", "widths"):
            for i, value in enumerate(getattr(self, name)):
                check_range(f"{where}.{name}[{i}]", value, 1)
        if self.stem_kernel_size < 1 or self.stem_kernel_size % 2 == 0:
            raise ConfigError(f"{where}.stem_kernel_size = {self.stem_kernel_size} must be odd")


RESNET1D_SIZES: dict[str, ResNet1dConfig] = {
    "tiny": ResNet1dConfig(),
    "resnet18": ResNet1dConfig(blocks=(2, 2, 2, 2), widths=(64, 128, 256, 512)),
}
"""``resnet18``: MERL's released ResNet encoder; ``tiny``: conformance fixtures."""


class BasicBlock1d(nn.Module):
    """Two kernel-3 conv-BN layers and a (projected) shortcut, then ReLU."""

    def __init__(self, in_channels: int, channels: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv1d(in_channels, channels, 3, stride=stride, padding=1, bias=False)
        self.norm1 = nn.BatchNorm1d(channels)
        self.conv2 = nn.Conv1d(channels, channels, 3, padding=1, bias=False)
        self.norm2 = nn.BatchNorm1d(channels)
        self.act = nn.ReLU(inplace=True)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_channels != channels:
            self.shortcut = nn.Sequential(
                nn.Conv1d(in_channels, channels, 1, stride=stride, bias=False),
                nn.BatchNorm1d(channels),
            )

    def forward(self, x: Tensor) -> Tensor:
        out = self.norm2(self.conv2(self.act(self.norm1(self.conv1(x)))))
        return self.act(out + self.shortcut(x))


class MerlResNet1d(TimeMapEncoder):
    """MERL's ResNet-1D without its classifier: embed = average over time of the last stage."""

    config_class: ClassVar[type[ResNet1dConfig]] = ResNet1dConfig
    sizes: ClassVar[dict[str, ResNet1dConfig]] = RESNET1D_SIZES
    config: ResNet1dConfig

    def __init__(self, config: ResNet1dConfig, input_spec: InputSpec):
        super().__init__(config, input_spec)
        kernel = config.stem_kernel_size
        first = config.widths[0]
        self.stem = nn.Sequential(
            nn.Conv1d(input_spec.n_leads, first, kernel, stride=2, padding=kernel // 2, bias=False),
            nn.BatchNorm1d(first),
            nn.ReLU(inplace=True),
        )
        stages: list[nn.Module] = []
        channels = first
        for stage, (n_blocks, width) in enumerate(zip(config.blocks, config.widths, strict=True)):
            blocks = []
            for i in range(n_blocks):
                stride = 2 if stage > 0 and i == 0 else 1
                blocks.append(BasicBlock1d(channels, width, stride))
                channels = width
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.embed_dim = self.feature_dim = channels

    def feature_map(self, x: Tensor) -> Tensor:
        """[B, leads, samples] -> [B, channels, ceil(samples / feature_stride)]."""
        if x.dim() != 3 or x.shape[1] != self.input_spec.n_leads:
            raise ConfigError(
                f"MERL ResNet: expected input [batch, {self.input_spec.n_leads} leads, samples], "
                f"got {tuple(x.shape)}"
            )
        return self.stages(self.stem(x))

    @property
    def feature_stride(self) -> int:
        """2 (stem) times 2 per stage after the first."""
        return 2 ** len(self.config.blocks)

    def forward(self, x: Tensor) -> Tensor:
        """Same as ``embed``."""
        return self.embed(x)
