"""SimCLR on 12-lead ECG as the CPC paper ran it (Mehari & Strodthoff, arXiv 2103.12676).

Two augmented views of every crop (``methods.augmentations``; the paper's best pair, random
resized crop then time out) go through the xresnet1d (``bench.encoders.xresnet1d``; the paper:
xresnet1d50) and a projection MLP (Linear -> ReLU -> Linear) into NT-Xent over the batch
(``methods.contrastive``). Downstream, ``encoder.embed`` is the xresnet1d's concat pooling
(mean, max) of its last feature map: the representation the paper's head and probe read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

import torch
from torch import Tensor, nn

from bench.config import check_range
from bench.encoders.base import InputSpec
from bench.encoders.xresnet1d import XResNet1d
from bench.errors import ConfigError
from bench.method import METHODS, InputRegime, Method
from bench.training.distributed import gather_with_grad
from methods.augmentations import AugmentationConfig, augment, check_augmentations
from methods.contrastive import nt_xent


def xresnet_encoder(size: str, input_spec: InputSpec) -> XResNet1d:
    """The shared xresnet1d of named ``size`` (tiny, xresnet1d50, xresnet1d101)."""
    return XResNet1d(XResNet1d.config_for_size(size), input_spec)


def check_view_fields(
    where: str, size: str, augmentations: tuple[str, ...], projection: tuple[int, int]
) -> None:
    """ConfigError for an unknown xresnet1d size or augmentation, or a non-positive width."""
    if size not in XResNet1d.sizes:
        raise ConfigError(
            f"{where}.size = {size!r} is not an xresnet1d size; use one of "
            f"{', '.join(XResNet1d.sizes)}"
        )
    check_augmentations(augmentations, where)
    check_range(f"{where}.projection_hidden", projection[0], 1)
    check_range(f"{where}.projection_dim", projection[1], 1)


ViewBatches = Literal["separate", "joint"]


def check_view_batches(where: str, view_batches: str) -> None:
    """ConfigError unless ``view_batches`` is "separate" or "joint"."""
    if view_batches not in ("separate", "joint"):
        raise ConfigError(f"{where}.view_batches = {view_batches!r} is not 'separate' or 'joint'")


def two_views(
    batch: Tensor, names: tuple[str, ...], config: AugmentationConfig, rate: int
) -> Tensor:
    """Two independently augmented views of ``batch`` [B, leads, T], stacked: [2B, leads, T]."""
    return torch.cat([augment(batch, names, config, rate), augment(batch, names, config, rate)])


@dataclass(frozen=True)
class SimCLRConfig:
    """Fields of ``simclr``; defaults follow the CPC paper's public code (its bolts_config.yaml
    and custom_simclr_bolts.py) unless marked.

    - ``size``: xresnet1d size, "tiny" (CPU default; the ``paper`` profile: "xresnet1d50").
    - ``augmentations``: names from ``methods.augmentations``, applied in order to each view;
      ("random_resized_crop", "time_out"), the paper's best pair.
    - ``augmentation``: their magnitudes (``AugmentationConfig``; the reference's defaults).
    - ``temperature``: NT-Xent temperature, 0.5.
    - ``projection_hidden`` / ``projection_dim``: the projection MLP Linear(embed, hidden) ->
      ReLU -> Linear(hidden, dim), 512 / 16 (the reference's hidden width and out_dim; the
      SimCLR paper used 128 dimensions, unverified which one the CPC paper's runs used).
    - ``view_batches``: how the two views go through the encoder, "separate" (default, the
      reference: one pass per view, so batch norm normalises each view with its own batch
      statistics) or "joint" (one batch of 2B crops, statistics shared by both views).

    Differences from the reference's optimiser (Adam, wd
    1e-5 excluding biases and norms, linear warm-up then cosine to 0): the shared loop's AdamW
    with the profile's schedule; the ``paper`` profile sets the reference's lr, batch, wd and
    epochs.
    """

    size: str = "tiny"
    augmentations: tuple[str, ...] = ("random_resized_crop", "time_out")
    augmentation: AugmentationConfig = field(default_factory=AugmentationConfig)
    temperature: float = 0.5
    projection_hidden: int = 512
    projection_dim: int = 16
    view_batches: ViewBatches = "separate"

    def __post_init__(self) -> None:
        projection = (self.projection_hidden, self.projection_dim)
        check_view_fields("simclr", self.size, self.augmentations, projection)
        check_view_batches("simclr", self.view_batches)
        if not 0.0 < self.temperature <= 1.0:
            raise ConfigError(f"simclr.temperature = {self.temperature!r} must lie in (0, 1]")


@METHODS.register("simclr")
class SimCLR(Method):
    """SimCLR: NT-Xent between two augmented views' projections (CPC paper's ECG setup)."""

    name: ClassVar[str] = "simclr"
    config_class: ClassVar[type[SimCLRConfig]] = SimCLRConfig
    group: ClassVar[str] = "comparators"
    # The CPC paper's pretraining input: 100 Hz, 12 leads, 2.5 s crops (250 samples); its
    # SimCLR code applies no normalisation unless asked (a "Normalize" transformation).
    native_input: ClassVar[InputRegime | None] = InputRegime(100, "12", 2.5, "none")
    config: SimCLRConfig
    encoder: XResNet1d

    def __init__(self, config: SimCLRConfig, input_spec: InputSpec):
        super().__init__(config, input_spec)
        self.encoder = xresnet_encoder(config.size, input_spec)
        self.projector = nn.Sequential(
            nn.Linear(self.encoder.embed_dim, config.projection_hidden),
            nn.ReLU(inplace=True),
            nn.Linear(config.projection_hidden, config.projection_dim),
        )

    def loss(self, batch: Tensor) -> dict[str, Tensor]:
        """NT-Xent over the global batch between the two views' projections."""
        c = self.config
        views = two_views(batch, c.augmentations, c.augmentation, self.input_spec.sampling_rate)
        projected = self.projector(self.embed_views(views)).float()
        first, second = (gather_with_grad(half) for half in projected.chunk(2))
        return {"loss": nt_xent(first, second, c.temperature)}

    def embed_views(self, views: Tensor) -> Tensor:
        """``encoder.embed`` of stacked views [2B, leads, T]: one pass per view or one for
        both (``view_batches``)."""
        if self.config.view_batches == "joint":
            return self.encoder.embed(views)
        return torch.cat([self.encoder.embed(view) for view in views.chunk(2)])
