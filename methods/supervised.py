"""Baselines trained from scratch on the labelled fraction only (the fine-tuning protocol).

``supervised`` is the backbone the SSL methods share (patch transformer by default), so the
comparison with them is controlled; ``supervised[<method>]`` is an SSL method's own network
(``bench.method.MatchedConfig``) trained from scratch. ``supervised_xresnet1d`` is the PTB-XL
benchmark's supervised reference, the xresnet1d (``size: xresnet1d101`` in the paper). They
only provide a freshly initialised, trainable encoder: the fine-tuning protocol trains
``method.encoder`` plus a head on ``embed``. The xresnet1d names the benchmark's head (concat
pooling (mean, max) -> BN -> dropout 0.25 -> Linear 128 -> ReLU -> BN -> dropout 0.5 -> Linear)
and its native input (100 Hz, 12 leads, 2.5 s crops); the ``paper`` profile sets the rest of
the benchmark's recipe (one-cycle, lr 1e-2, batch 128, wd 1e-2, 50 epochs, max aggregation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from bench.errors import ConfigError
from bench.method import METHODS, HeadSpec, InputRegime, Protocol
from methods.baseline import Baseline, BaselineConfig


@METHODS.register("supervised")
class Supervised(Baseline):
    """Shared backbone trained from scratch on the labelled fraction (fine-tune protocol only)."""

    name: ClassVar[str] = "supervised"
    protocols: ClassVar[tuple[Protocol, ...]] = ("finetune",)
    builds_on_backbones: ClassVar[bool] = True


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
    """The PTB-XL benchmark's supervised reference: xresnet1d trained from scratch.

    Native input: 100 Hz, 12 leads, 2.5 s crops, standardised with one mean and std over every
    lead and sample of the training folds, as the benchmark code's scaler (``train_all``).
    """

    name: ClassVar[str] = "supervised_xresnet1d"
    config_class: ClassVar[type[SupervisedXResNet1dConfig]] = SupervisedXResNet1dConfig
    builds_on_backbones: ClassVar[bool] = False
    native_input: ClassVar[InputRegime] = InputRegime(100, "12", 2.5, "train_all")
    finetune_head: ClassVar[HeadSpec] = HeadSpec(hidden=128, input_dropout=0.25, dropout=0.5)
