"""Baselines trained from scratch on the labelled fraction only (the fine-tuning protocol).

``supervised`` is the backbone the SSL methods share (patch transformer by default), so the
comparison with them is controlled; ``supervised_xresnet1d`` is the PTB-XL benchmark's
supervised reference, the xresnet1d (``size: xresnet1d101`` in the paper). Both only provide a
freshly initialised, trainable encoder: the fine-tuning protocol trains ``method.encoder`` plus
a head on ``embed`` (the benchmark's head: concat pooling -> 128 -> dropout 0.5 -> classes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from bench.errors import ConfigError
from bench.method import METHODS, Protocol
from methods.baseline import Baseline, BaselineConfig


@METHODS.register("supervised")
class Supervised(Baseline):
    """Shared backbone trained from scratch on the labelled fraction (fine-tune protocol only)."""

    name: ClassVar[str] = "supervised"
    protocols: ClassVar[tuple[Protocol, ...]] = ("finetune",)


@dataclass(frozen=True)
class SupervisedXResNet1dConfig(BaselineConfig):
    """The xresnet1d only; ``size`` "tiny" (default, CPU), "xresnet1d50" or "xresnet1d101"."""

    encoder: Literal["xresnet1d"] = "xresnet1d"

    def __post_init__(self) -> None:
        if self.encoder != "xresnet1d":
            raise ConfigError(
                f"supervised_xresnet1d encoder = {self.encoder!r}: this baseline is the xresnet1d "
                "only (use method 'supervised' for another backbone)"
            )
        super().__post_init__()


@METHODS.register("supervised_xresnet1d")
class SupervisedXResNet1d(Supervised):
    """The PTB-XL benchmark's supervised reference: xresnet1d trained from scratch."""

    name: ClassVar[str] = "supervised_xresnet1d"
    config_class: ClassVar[type[SupervisedXResNet1dConfig]] = SupervisedXResNet1dConfig
