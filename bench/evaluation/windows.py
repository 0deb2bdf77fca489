"""Sliding windows over whole records, and per-record aggregation of window outputs.

Records of differing lengths (``Ragged``) are windowed over each record's own valid span, in
groups of one length. Short-record policy: a record shorter than the window is zero-padded
after its end to one window and scored (so no record ever drops out of a validation or test
fold); the number padded is logged. The encoders take no mask, so the padded tail is zeros.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from bench.data.ragged import Ragged
from bench.errors import ConfigError

log = logging.getLogger(__name__)

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
    signals: np.ndarray | Ragged,
    function: Callable[[Tensor], Tensor],
    window: int,
    stride: int,
    aggregate: Aggregate,
    device: torch.device,
    batch_size: int = 256,
) -> np.ndarray:
    """Run ``function`` on every window of every record and aggregate per record.

    ``signals`` is [N, leads, T] or Ragged; ``function`` maps [B, leads, window] -> [B, D]; the
    result is [N, D] float32 (the mean or max over each record's windows).
    """
    if isinstance(signals, Ragged):
        return _apply_ragged(signals, function, window, stride, aggregate, device, batch_size)
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


def _apply_ragged(
    signals: Ragged,
    function: Callable[[Tensor], Tensor],
    window: int,
    stride: int,
    aggregate: Aggregate,
    device: torch.device,
    batch_size: int,
) -> np.ndarray:
    """``apply_windowed`` per group of records of one length (short ones padded, see above)."""
    lengths = signals.lengths
    short = int(np.count_nonzero(lengths < window))
    if short:
        log.warning("%d records shorter than the %d-sample window are zero-padded", short, window)
    outputs: np.ndarray | None = None
    for length in np.unique(lengths):
        rows = np.flatnonzero(lengths == length)
        stack = np.stack([signals.record(int(row)) for row in rows])
        if length < window:
            stack = np.pad(stack, ((0, 0), (0, 0), (0, window - int(length))))
        values = apply_windowed(stack, function, window, stride, aggregate, device, batch_size)
        if outputs is None:
            outputs = np.zeros((len(signals), values.shape[1]), dtype=np.float32)
        outputs[rows] = values
    if outputs is None:
        raise ConfigError("no records to window")
    return outputs
