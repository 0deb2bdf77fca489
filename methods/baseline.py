"""Shared pieces of the baselines: their config and a Method without a pretraining objective.

A baseline (``random_init``, ``supervised``, ``supervised_xresnet1d``) is a freshly initialised
shared backbone that the evaluation protocols use as it is: frozen for the linear probe
(random init), or trained from scratch with a head on the labelled fraction (supervised). It
never enters the pretraining loop (``needs_pretraining = False``, and ``bench pretrain``
refuses it), so ``loss`` raises a BenchError instead of returning a stand-in objective.

``random_init`` and ``supervised`` can also be built on an SSL method's own network (matched
baselines, ``random_init[cpc]``, config ``bench.method.MatchedConfig``): the encoder is then
the SSL method's ``encoder``, built by that method from its config, under the same seed rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from torch import Tensor

from bench.config import from_dict
from bench.encoders.base import ENCODERS, Encoder, InputSpec
from bench.errors import BenchError, ConfigError
from bench.method import METHODS, MatchedConfig, Method

BackboneName = Literal["patch_transformer", "xresnet1d"]


@dataclass(frozen=True)
class BaselineConfig:
    """Which shared backbone, of which named size, with which overrides of its config.

    encoder: "patch_transformer" (default, the backbone the SSL methods share) or "xresnet1d";
    size: a named size of that encoder ("tiny" default; "small"/"base" for the transformer,
    "xresnet1d50"/"xresnet1d101" for xresnet1d); encoder_overrides: fields of the encoder's
    config to change, so the baseline can mirror an SSL method's wiring exactly (e.g.
    ``{attention: cropa, pos_every_block: true}`` to match ECG-JEPA's encoder).
    """

    encoder: BackboneName = "patch_transformer"
    size: str = "tiny"
    encoder_overrides: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.encoder not in ("patch_transformer", "xresnet1d"):
            raise ConfigError(
                f"baseline encoder = {self.encoder!r} is not 'patch_transformer' or 'xresnet1d'"
            )
        self.encoder_config()

    def encoder_config(self) -> Any:
        """The encoder's config: named ``size`` plus ``encoder_overrides`` (ConfigError if bad)."""
        encoder_class = ENCODERS.get(self.encoder)
        return encoder_class.config_for_size(self.size, **self.encoder_overrides)


class Baseline(Method):
    """A freshly initialised shared backbone, seeded by the caller; no pretraining objective."""

    config_class: ClassVar[type[BaselineConfig]] = BaselineConfig
    needs_pretraining: ClassVar[bool] = False
    config: BaselineConfig

    def __init__(self, config: BaselineConfig | MatchedConfig, input_spec: InputSpec):
        super().__init__(config, input_spec)
        if isinstance(config, MatchedConfig):
            self.encoder: Encoder = backbone_encoder(config, input_spec)
        else:
            encoder_class = ENCODERS.get(config.encoder)
            self.encoder = encoder_class(config.encoder_config(), input_spec)

    def loss(self, batch: Tensor) -> dict[str, Tensor]:
        """Always raises: a baseline is evaluated as built, never pretrained."""
        raise BenchError(
            f"method {self.name!r} is a baseline without a pretraining objective; it is "
            f"evaluated as built (protocols: {', '.join(self.protocols)}), not pretrained"
        )


def backbone_encoder(config: MatchedConfig, input_spec: InputSpec) -> Encoder:
    """A fresh ``encoder`` of the SSL method or checkpoint ``config.backbone`` (its own init,
    global RNG; a checkpoint's weights are not read)."""
    method_class = METHODS.get(config.backbone)
    if not method_class.has_own_network():
        raise ConfigError(
            f"matched baseline backbone {config.backbone!r} is a baseline; name an SSL method "
            "or a published checkpoint"
        )
    where = f"backbone {config.backbone}"
    method_config = from_dict(method_class.config_class, config.backbone_config, where=where)
    return method_class.untrained_encoder(method_config, input_spec)
