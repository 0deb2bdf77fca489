"""Sliding windows over whole records, and per-record aggregation of window outputs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from bench.errors import ConfigError

Aggregate = Literal["mean", "max"]


def window_starts(n_samples: int, window: int, stride: int) -> np.ndarray:
    """Start offsets of windows covering a record; the last window ends at the record's end."""
    if window <= 0 or stride <= 0:
        raise ConfigError(f"window ({window}) and stride ({stride}) must be positive samples")
    if n_samples < window:
        raise ConfigError(
            f"records of {n_samples} samples are shorter than the {window}-sample window"
        )
    starts = np.arange(0, n_samples - window + 1, stride)
    if starts[-1] != n_samples - window:
        starts = np.append(starts, n_samples - window)
    return starts


@torch.no_grad()
def apply_windowed(
    signals: np.ndarray,
    function: Callable[[Tensor], Tensor],
    window: int,
    stride: int,
    aggregate: Aggregate,
    device: torch.device,
    batch_size: int = 256,
) -> np.ndarray:
    """Run ``function`` on every window of every record and aggregate per record.

    ``signals`` is [N, leads, T]; ``function`` maps [B, leads, window] -> [B, D]; the result is
    [N, D] float32 (the mean or max over each record's windows).
    """
    starts = window_starts(signals.shape[-1], window, stride)
    n_windows = len(starts)
    records_per_batch = max(1, batch_size // n_windows)
    offsets = torch.as_tensor(starts, device=device)[:, None] + torch.arange(window, device=device)
    outputs = []
    for first in range(0, len(signals), records_per_batch):
        chunk = torch.tensor(np.asarray(signals[first : first + records_per_batch]), device=device)
        windows = chunk[:, :, offsets].permute(0, 2, 1, 3)  # [B, W, leads, window]
        flat = windows.reshape(-1, *windows.shape[2:])
        values = function(flat).float().reshape(len(chunk), n_windows, -1)
        pooled = values.mean(1) if aggregate == "mean" else values.amax(1)
        outputs.append(pooled.cpu().numpy())
    return np.concatenate(outputs).astype(np.float32)
