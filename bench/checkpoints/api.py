"""``bench.load_encoder("<checkpoint>")``: a published model ready for users' own code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from bench.checkpoints.catalogue import checkpoint_method
from bench.checkpoints.method import CheckpointConfig, CheckpointMethod
from bench.checkpoints.weights import sha256
from bench.data.signals import CANONICAL_LEADS


class PublishedEncoder(nn.Module):
    """A published encoder with its official weights and its official input pipeline.

    ``preprocess(raw, rate)`` turns a raw record [leads, samples] in mV (canonical lead order
    unless ``leads`` names them) into the official input; ``embed(x)`` gives the representation
    the model's own code uses downstream, [B, D] for x [B, leads, samples] in that input.
    ``encoder`` is the ``bench.encoders.base.Encoder`` itself (fine-tune it as any module).
    """

    def __init__(self, method: type[CheckpointMethod], encoder: nn.Module, weights: Path):
        super().__init__()
        self.method = method
        self.encoder = encoder
        self.name = method.name
        self.card = method.card
        self.official_input = method.official_input
        self.weights = weights
        self.weights_sha256 = sha256(weights)

    def preprocess(
        self, raw: np.ndarray, rate: float, leads: tuple[str, ...] = CANONICAL_LEADS
    ) -> np.ndarray:
        """A raw record -> the official input [model leads, window samples], float32."""
        return np.asarray(self.method.preprocess(raw, rate, tuple(leads)), dtype=np.float32)

    def embed(self, x: Tensor) -> Tensor:
        """[B, leads, samples] in the official input -> [B, D]."""
        return self.encoder.embed(x)

    def features(self, x: Tensor) -> Tensor:
        """[B, leads, samples] -> the time-resolved features [B, T', F]."""
        return self.encoder.features(x)


def load_published(
    name: str, weights: str | Path | None = None, device: str | torch.device = "cpu", size: str = ""
) -> PublishedEncoder:
    """The published checkpoint ``name`` with its weights (``weights``, else ``--weights`` /
    ``$BENCH_WEIGHTS_DIR`` / the hub cache), in eval mode on ``device``."""
    method_class = checkpoint_method(name)
    config = CheckpointConfig(size=size, weights=None if weights is None else str(weights))
    method = method_class(config, method_class.official_input_spec())
    loaded = PublishedEncoder(method_class, method.network, method.weights_path)
    return loaded.to(device).eval()
