"""Baseline ``random_init``: the shared backbone (or an SSL method's own network, as
``random_init[<method>]``), untrained and frozen, for the frozen-encoder protocols (linear
probe, attentive probe, k-NN)."""

from __future__ import annotations

from typing import ClassVar

from bench.encoders.base import InputSpec
from bench.method import FROZEN_PROTOCOLS, METHODS, MatchedConfig, Protocol
from methods.baseline import Baseline, BaselineConfig


@METHODS.register("random_init")
class RandomInit(Baseline):
    """Frozen, untrained shared encoder: the floor every SSL method's linear probe must beat.

    The encoder keeps exactly the initialisation drawn under the caller's seed: its parameters
    have ``requires_grad=False`` and it stays in eval mode even when the method is put in
    training mode, so batch-norm statistics (xresnet1d) and dropout never change it either.
    """

    name: ClassVar[str] = "random_init"
    protocols: ClassVar[tuple[Protocol, ...]] = FROZEN_PROTOCOLS
    builds_on_backbones: ClassVar[bool] = True

    def __init__(self, config: BaselineConfig | MatchedConfig, input_spec: InputSpec):
        super().__init__(config, input_spec)
        self.encoder.requires_grad_(False)
        self.encoder.eval()

    def train(self, mode: bool = True) -> RandomInit:
        """Set the training mode of the method while the frozen encoder stays in eval mode."""
        super().train(mode)
        self.encoder.eval()
        return self
