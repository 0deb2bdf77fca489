"""Encoder contract shared by every backbone, and the encoder registry."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from torch import Tensor, nn

from bench.registry import Registry


@dataclass(frozen=True)
class InputSpec:
    """Shape of the model input: leads x samples at a sampling rate (one crop or window)."""

    n_leads: int
    n_samples: int
    sampling_rate: int


class Encoder(nn.Module, ABC):
    """A backbone mapping ECG crops [B, leads, samples] to representations.

    ``embed_dim`` is the size of ``embed``'s output, the representation that frozen evaluation
    (linear probe) and fine-tuning heads use.
    """

    embed_dim: int

    @abstractmethod
    def embed(self, x: Tensor) -> Tensor:
        """[B, leads, samples] -> [B, embed_dim]."""


ENCODERS: Registry[type[Encoder]] = Registry("encoder", package="bench.encoders")
