"""A small 1-D U-Net: the supervised reference network of the ECG delineation literature.

U-Nets trained from scratch on per-sample wave masks are the usual delineation baseline (e.g.
Moskalenko et al. 2020 on LUDB, >= 99 % QRS F1 at 150 ms). This one is a plain encoder-decoder:
``depth`` levels of two (Conv1d 'same' -> BatchNorm -> ReLU) layers, max-pool 2 between levels
with channels doubling from ``width``, a bottleneck, then transposed-conv upsampling (kernel 2,
stride 2), concatenation with the level's skip and two more conv layers per level. The input is
zero-padded on the right to a multiple of ``2 ** depth`` and the output cropped back, so any
length works. All leads enter as channels of the first layer. ``features`` is the last decoder
layer, one step per input sample (stride 1): [B, T, width]; ``embed`` is its time mean. The
sizes are this suite's, not a published architecture's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bench.config import check_range
from bench.encoders.base import ENCODERS, Encoder, InputSpec
from bench.errors import ConfigError


@dataclass(frozen=True)
class UNet1dConfig:
    """Width of the first level, number of downsamplings and the (odd) kernel size."""

    width: int = 16
    depth: int = 3
    kernel_size: int = 9

    def __post_init__(self) -> None:
        check_range("UNet1dConfig.width", self.width, 1)
        check_range("UNet1dConfig.depth", self.depth, 1, 8)
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ConfigError(f"UNet1dConfig.kernel_size = {self.kernel_size} must be odd")


UNET1D_SIZES: dict[str, UNet1dConfig] = {
    "tiny": UNet1dConfig(),
    "small": UNet1dConfig(width=32, depth=4),
}
"""Named sizes: ``tiny`` for CPU tests and smoke runs, ``small`` for longer runs."""


def double_conv(in_channels: int, out_channels: int, kernel_size: int) -> nn.Sequential:
    """Two (Conv1d 'same', no bias -> BatchNorm1d -> ReLU) layers."""
    layers: list[nn.Module] = []
    for c_in in (in_channels, out_channels):
        layers += [
            nn.Conv1d(c_in, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
            nn.BatchNorm1d(out_channels),
            nn.ReLU(inplace=True),
        ]
    return nn.Sequential(*layers)


@ENCODERS.register("unet1d")
class UNet1d(Encoder):
    """1-D U-Net; features at the input's rate (stride 1), embed = their time mean."""

    config_class: ClassVar[type[UNet1dConfig]] = UNet1dConfig
    sizes: ClassVar[dict[str, UNet1dConfig]] = UNET1D_SIZES
    config: UNet1dConfig

    def __init__(self, config: UNet1dConfig, input_spec: InputSpec):
        super().__init__(config, input_spec)
        widths = [config.width * 2**level for level in range(config.depth + 1)]
        k = config.kernel_size
        self.down = nn.ModuleList(
            double_conv(c_in, c_out, k)
            for c_in, c_out in zip([input_spec.n_leads, *widths[:-2]], widths[:-1], strict=True)
        )
        self.bottleneck = double_conv(widths[-2], widths[-1], k)
        self.upsample = nn.ModuleList(
            nn.ConvTranspose1d(widths[i + 1], widths[i], 2, stride=2)
            for i in reversed(range(config.depth))
        )
        self.up = nn.ModuleList(
            double_conv(2 * widths[i], widths[i], k) for i in reversed(range(config.depth))
        )
        self.embed_dim = config.width
        self.feature_dim = config.width

    @property
    def feature_stride(self) -> int:
        """One feature step per input sample."""
        return 1

    def features(self, x: Tensor) -> Tensor:
        """[B, leads, T] -> the last decoder layer [B, T, width]."""
        if x.dim() != 3 or x.shape[1] != self.input_spec.n_leads:
            raise ConfigError(
                f"unet1d: expected input [batch, {self.input_spec.n_leads} leads, samples], "
                f"got {tuple(x.shape)}"
            )
        length = x.shape[-1]
        multiple = 2**self.config.depth
        h = F.pad(x, (0, -length % multiple))
        skips = []
        for block in self.down:
            h = block(h)
            skips.append(h)
            h = F.max_pool1d(h, 2)
        h = self.bottleneck(h)
        for upsample, block, skip in zip(self.upsample, self.up, reversed(skips), strict=True):
            h = block(torch.cat([upsample(h), skip], dim=1))
        return h[..., :length].transpose(1, 2)

    def embed(self, x: Tensor) -> Tensor:
        """Time mean of ``features``: [B, width]."""
        return self.features(x).mean(dim=1)

    def forward(self, x: Tensor) -> Tensor:
        """Same as ``embed``."""
        return self.embed(x)
