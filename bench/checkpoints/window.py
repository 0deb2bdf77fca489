"""The grid's input to a published model: each window through the model's official steps.

The grid's dataset cache gives a checkpoint its records at the official rate (resampled the
official way) in the canonical lead order; what the official code does per window (its lead
selection and order, filters, amplitude scaling) happens here, window by window, so the model
sees exactly what its own code would give it for the same crop.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from bench.encoders.base import Encoder

WindowSteps = Callable[[np.ndarray], np.ndarray]


class OfficialWindowEncoder(Encoder):
    """``net`` (the published architecture) behind the model's per-window official steps.

    ``embed`` / ``features`` take grid windows [B, grid leads, samples]; ``steps`` turns them
    into the official input [B, model leads, samples] (on the CPU, in NumPy, as the official
    code does it) before ``net`` sees them. Gradients flow through ``net`` only. ``rate_ratio``:
    grid samples per network sample (the official steps may decimate), so that a ``features``
    step covers ``net.feature_stride * rate_ratio`` grid samples.
    """

    def __init__(self, net: Encoder, steps: WindowSteps, rate_ratio: int = 1):
        super().__init__(net.config, net.input_spec)
        self.net = net
        self.steps = steps
        self.rate_ratio = rate_ratio
        self.embed_dim = net.embed_dim
        self.feature_dim = net.feature_dim
        self.config_class = type(net.config)

    def official(self, x: Tensor) -> Tensor:
        """Grid windows -> the official input, on ``x``'s device and dtype."""
        windows = x.detach().to("cpu", torch.float32).numpy()
        return torch.from_numpy(np.ascontiguousarray(self.steps(windows))).to(x.device, x.dtype)

    def embed(self, x: Tensor) -> Tensor:
        return self.net.embed(self.official(x))

    def features(self, x: Tensor) -> Tensor:
        return self.net.features(self.official(x))

    @property
    def feature_stride(self) -> int:
        return self.net.feature_stride * self.rate_ratio
