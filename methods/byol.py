"""BYOL on 12-lead ECG as the CPC paper ran it (Mehari & Strodthoff, arXiv 2103.12676).

An online network (xresnet1d -> projector -> predictor) predicts, from one augmented view, the
projection of the other view by a target network (xresnet1d -> projector) whose weights are
an exponential moving average of the online ones; the loss is 2 - 2 cos(prediction, target)
for both directions, summed. Projector and predictor are MLPs Linear (no bias) -> BatchNorm
-> ReLU -> Linear. Downstream, ``encoder.embed`` is the online xresnet1d's concat pooling.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bench.encoders.base import InputSpec
from bench.encoders.xresnet1d import XResNet1d
from bench.errors import ConfigError
from bench.method import METHODS, CollapseRule, InputRegime, Method
from methods.augmentations import AugmentationConfig
from methods.simclr import check_view_fields, two_views, xresnet_encoder


@dataclass(frozen=True)
class BYOLConfig:
    """Fields of ``byol``; defaults follow the CPC paper's public code (custom_byol_bolts.py).

    - ``size`` / ``augmentations`` / ``augmentation``: as ``simclr`` (xresnet1d "tiny" on
      CPU, "xresnet1d50" in the paper; random resized crop then time out).
    - ``projection_hidden`` / ``projection_dim``: the projector and the predictor, 512 / 16
      (the reference's hidden size and out_dim).
    - ``ema_start``: target momentum at the first step, rising to 1 on a cosine over the run
      (tau = 1 - (1 - ema_start) (cos(pi k / K) + 1) / 2), 0.996.
    - ``ema_parameters``: which target parameters follow the online ones, "all" (default, as
      the BYOL paper) or "weight_named" (only those whose name holds "weight", as the CPC
      paper's reference code: biases and norm shifts keep their initial values). The default
      follows the paper over the reference, whose name filter drops the biases from the
      average the paper defines over every parameter.
    - ``collapse_ratio``: the collapse guard (``bench.training.collapse``) on
      ``projection_std`` (see ``projection_spread``): flagged when its mean over the last
      epoch ends below this share of its first-step value; 0.5 (unverified, as ``jepa``).
    """

    size: str = "tiny"
    augmentations: tuple[str, ...] = ("random_resized_crop", "time_out")
    augmentation: AugmentationConfig = field(default_factory=AugmentationConfig)
    projection_hidden: int = 512
    projection_dim: int = 16
    ema_start: float = 0.996
    ema_parameters: Literal["all", "weight_named"] = "all"
    collapse_ratio: float = 0.5

    def __post_init__(self) -> None:
        projection = (self.projection_hidden, self.projection_dim)
        check_view_fields("byol", self.size, self.augmentations, projection)
        if not 0.0 <= self.ema_start <= 1.0:
            raise ConfigError(f"byol.ema_start = {self.ema_start!r} must lie in [0, 1]")
        if self.ema_parameters not in ("all", "weight_named"):
            raise ConfigError(
                f"byol.ema_parameters = {self.ema_parameters!r} is not 'all' or 'weight_named'"
            )
        if not 0.0 < self.collapse_ratio < 1.0:
            raise ConfigError(f"byol.collapse_ratio = {self.collapse_ratio!r} must lie in (0, 1)")


def byol_mlp(inputs: int, hidden: int, outputs: int) -> nn.Sequential:
    """Linear (no bias) -> BatchNorm -> ReLU -> Linear: BYOL's projector and predictor."""
    return nn.Sequential(
        nn.Linear(inputs, hidden, bias=False),
        nn.BatchNorm1d(hidden),
        nn.ReLU(inplace=True),
        nn.Linear(hidden, outputs),
    )


def byol_loss(prediction: Tensor, target: Tensor) -> Tensor:
    """Mean over the batch of 2 - 2 cos(prediction, target), in float32 (0 when aligned)."""
    cosine = F.cosine_similarity(prediction.float(), target.float(), dim=1)
    return (2 - 2 * cosine).mean()


def projection_spread(projections: Tensor) -> Tensor:
    """Std across the batch of the L2-normalised projections, averaged over dimensions: about
    1 / sqrt(dim) for spread-out projections, 0 when every record maps to one point (the
    collapse diagnostic). Float32, without gradient."""
    unit = F.normalize(projections.detach().float(), dim=1)
    return unit.std(dim=0, correction=0).mean()


@METHODS.register("byol")
class BYOL(Method):
    """BYOL: predict an EMA target network's projection of the other view (no negatives)."""

    name: ClassVar[str] = "byol"
    config_class: ClassVar[type[BYOLConfig]] = BYOLConfig
    group: ClassVar[str] = "comparators"
    native_input: ClassVar[InputRegime | None] = InputRegime(100, "12", 2.5, "none")
    config: BYOLConfig
    encoder: XResNet1d

    def __init__(self, config: BYOLConfig, input_spec: InputSpec):
        super().__init__(config, input_spec)
        self.encoder = xresnet_encoder(config.size, input_spec)
        hidden, dim = config.projection_hidden, config.projection_dim
        self.projector = byol_mlp(self.encoder.embed_dim, hidden, dim)
        self.predictor = byol_mlp(dim, hidden, dim)
        self.target_encoder = copy.deepcopy(self.encoder).requires_grad_(False)
        self.target_projector = copy.deepcopy(self.projector).requires_grad_(False)

    def loss(self, batch: Tensor) -> dict[str, Tensor]:
        """Both directions' 2 - 2 cos; also ``projection_std``, the collapse diagnostic."""
        c = self.config
        views = two_views(batch, c.augmentations, c.augmentation, self.input_spec.sampling_rate)
        projections = self.projector(self.encoder.embed(views))
        predictions = self.predictor(projections)
        with torch.no_grad():
            targets = self.target_projector(self.target_encoder.embed(views))
        first, second = predictions.chunk(2)
        target_first, target_second = targets.chunk(2)
        loss = byol_loss(first, target_second) + byol_loss(second, target_first)
        return {"loss": loss, "projection_std": projection_spread(projections)}

    def collapse_rule(self) -> CollapseRule:
        """Collapsed when the last epoch's ``projection_std`` < ``collapse_ratio`` x step 1's."""
        return CollapseRule("projection_std", self.config.collapse_ratio)

    def momentum(self, step: int, total_steps: int) -> float:
        """Target momentum after optimiser step ``step`` (1-based): ``ema_start`` at the first
        step, rising on a cosine towards 1 at the end."""
        progress = (step - 1) / max(total_steps, 1)
        return 1 - (1 - self.config.ema_start) * (math.cos(math.pi * progress) + 1) / 2

    def averaged(self, network: nn.Module) -> list[Tensor]:
        """The parameters of ``network`` the EMA moves (``ema_parameters``), in order."""
        every = self.config.ema_parameters == "all"
        return [p for name, p in network.named_parameters() if every or "weight" in name]

    @torch.no_grad()
    def on_step_end(self, step: int, total_steps: int) -> None:
        """target <- m * target + (1 - m) * online, for the encoder and the projector (the
        parameters ``ema_parameters`` names)."""
        m = self.momentum(step, total_steps)
        for online, target in ((self.encoder, self.target_encoder),
                               (self.projector, self.target_projector)):  # fmt: skip
            targets = self.averaged(target)
            onlines = [p.detach() for p in self.averaged(online)]
            torch._foreach_mul_(targets, m)
            torch._foreach_add_(targets, torch._foreach_mul(onlines, 1.0 - m))
