"""``supervised_unet1d``: a small 1-D U-Net trained from scratch on the labelled fraction.

The supervised reference of the ECG delineation literature (U-Nets on per-sample wave masks,
e.g. Moskalenko et al. 2020, >= 99 % QRS F1 at 150 ms on LUDB; ``bench.encoders.unet1d``). Like
``supervised`` it only provides a freshly initialised, trainable encoder; the segmentation
fine-tuning protocol (``bench.evaluation.segmentation_finetune``) trains it with the per-step
head at the full learning rate. Only meaningful on dense tasks: ``task_kinds`` limits it to
segmentation, so ``--methods all`` plans no cell of it on classification or regression tasks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from bench.errors import ConfigError
from bench.method import METHODS
from methods.baseline import BaselineConfig
from methods.supervised import Supervised


@dataclass(frozen=True)
class SupervisedUNet1dConfig(BaselineConfig):
    """The U-Net only; ``size`` "tiny" (default, CPU) or "small", with ``encoder_overrides``
    of ``bench.encoders.unet1d.UNet1dConfig`` (width, depth, kernel_size)."""

    encoder: Literal["unet1d"] = "unet1d"  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.encoder != "unet1d":
            raise ConfigError(
                f"supervised_unet1d encoder = {self.encoder!r}: this baseline is the 1-D U-Net "
                "only (use method 'supervised' for another backbone)"
            )
        self.encoder_config()


@METHODS.register("supervised_unet1d")
class SupervisedUNet1d(Supervised):
    """The delineation literature's supervised reference: a 1-D U-Net from scratch."""

    name: ClassVar[str] = "supervised_unet1d"
    config_class: ClassVar[type[SupervisedUNet1dConfig]] = SupervisedUNet1dConfig
    builds_on_backbones: ClassVar[bool] = False
    task_kinds: ClassVar[tuple[str, ...] | None] = ("segmentation",)
