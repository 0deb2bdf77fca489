"""The representation the published convolutional encoders share: a feature map over time,
its mean as ``embed`` and its steps as ``features``."""

from __future__ import annotations

from abc import abstractmethod

from torch import Tensor

from bench.encoders.base import Encoder


class TimeMapEncoder(Encoder):
    """An encoder whose ``feature_map`` [B, channels, steps] gives ``embed`` (the mean over
    time, as ECGFounder's and MERL's downstream code pools) and ``features`` (time first)."""

    @abstractmethod
    def feature_map(self, x: Tensor) -> Tensor:
        """[B, leads, samples] -> [B, channels, steps]."""

    def embed(self, x: Tensor) -> Tensor:
        """Mean over time of the last stage: [B, channels]."""
        return self.feature_map(x).mean(-1)

    def features(self, x: Tensor) -> Tensor:
        """The last stage's map, time first: [B, steps, channels]."""
        return self.feature_map(x).transpose(1, 2)
