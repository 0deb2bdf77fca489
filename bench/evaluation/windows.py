"""Sliding windows over whole records, and per-record aggregation of window outputs.

Records of differing lengths (``Ragged``) are windowed over each record's own valid span, in
groups of one length. Short-record policy: a record shorter than the window is zero-padded
after its end to one window and scored (so no record ever drops out of a validation or test
fold); the number padded is logged. The encoders take no mask, so the padded tail is zeros.

``window_chunks`` cuts the batches (``records_per_batch`` whole records of windows each) that
``apply_windowed`` runs lazily; ``prepare_windows`` keeps them, so a fold scored many times
(fine-tuning's validation) is cut once and every pass runs on the very same batches.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from bench.data.formats.ragged import Ragged
from bench.errors import ConfigError

log = logging.getLogger(__name__)

Aggregate = Literal["mean", "max"]
PREPARED_BYTES = 512 * 2**20  # prepare_windows keeps at most this much (else cuts each pass)


@dataclass(frozen=True)
class WindowChunk:
    """One batch: every window of the records ``rows`` (positions in the signals), in record
    order, ``[len(rows) * n_windows, leads, window]``."""

    rows: np.ndarray
    windows: Tensor
    n_windows: int


@dataclass(frozen=True)
class PreparedWindows:
    """A fold's windows, cut once: its chunks (None: too large, cut again at each pass)."""

    signals: np.ndarray | Ragged
    window: int
    stride: int
    device: torch.device
    batch_size: int
    chunks: tuple[WindowChunk, ...] | None

    def __iter__(self) -> Iterator[WindowChunk]:
        if self.chunks is not None:
            return iter(self.chunks)
        return window_chunks(self.signals, self.window, self.stride, self.device, self.batch_size)

    def __len__(self) -> int:
        return len(self.signals)


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


def window_chunks(
    signals: np.ndarray | Ragged,
    window: int,
    stride: int,
    device: torch.device,
    batch_size: int = 256,
) -> Iterator[WindowChunk]:
    """The batches of windows of ``signals`` ([N, leads, T] or Ragged), ``batch_size // windows
    per record`` records each (at least one), cut on ``device`` as they are needed."""
    if isinstance(signals, Ragged):
        yield from _ragged_chunks(signals, window, stride, device, batch_size)
        return
    starts = window_starts(signals.shape[-1], window, stride)
    n_windows = len(starts)
    records_per_batch = max(1, batch_size // n_windows)
    offsets = torch.as_tensor(starts, device=device)[:, None] + torch.arange(window, device=device)
    for first in range(0, len(signals), records_per_batch):
        chunk = torch.tensor(np.asarray(signals[first : first + records_per_batch]), device=device)
        windows = chunk[:, :, offsets].permute(0, 2, 1, 3)  # [B, W, leads, window]
        rows = np.arange(first, first + len(chunk))
        yield WindowChunk(rows, windows.reshape(-1, *windows.shape[2:]), n_windows)


def prepare_windows(
    signals: np.ndarray | Ragged,
    window: int,
    stride: int,
    device: torch.device,
    batch_size: int = 256,
) -> PreparedWindows:
    """``window_chunks`` of ``signals`` kept for repeated passes (up to ``PREPARED_BYTES``)."""
    n_samples = signals.flat.size if isinstance(signals, Ragged) else np.asarray(signals).size
    overlap = max(1.0, window / stride)  # windows overlap by this factor at most
    fits = n_samples * overlap * 4 <= PREPARED_BYTES
    chunks = tuple(window_chunks(signals, window, stride, device, batch_size)) if fits else None
    return PreparedWindows(signals, window, stride, device, batch_size, chunks)


def pool_windows(
    chunks: Iterable[WindowChunk],
    function: Callable[[Tensor], Tensor],
    aggregate: Aggregate,
    n_records: int,
) -> np.ndarray:
    """``function`` ([B, leads, window] -> [B, D]) on every chunk, pooled per record by
    ``aggregate`` (mean or max over its windows): [n_records, D] float32."""
    outputs: np.ndarray | None = None
    for chunk in chunks:
        values = function(chunk.windows).float().reshape(len(chunk.rows), chunk.n_windows, -1)
        pooled = values.mean(1) if aggregate == "mean" else values.amax(1)
        if outputs is None:
            outputs = np.zeros((n_records, pooled.shape[1]), dtype=np.float32)
        outputs[chunk.rows] = pooled.cpu().numpy()
    if outputs is None:
        raise ConfigError("no records to window")
    return outputs


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
    chunks = window_chunks(signals, window, stride, device, batch_size)
    return pool_windows(chunks, function, aggregate, len(signals))


def _ragged_chunks(
    signals: Ragged, window: int, stride: int, device: torch.device, batch_size: int
) -> Iterator[WindowChunk]:
    """``window_chunks`` per group of records of one length (short ones padded, see above)."""
    lengths = signals.lengths
    short = int(np.count_nonzero(lengths < window))
    if short:
        log.warning("%d records shorter than the %d-sample window are zero-padded", short, window)
    for length in np.unique(lengths):
        rows = np.flatnonzero(lengths == length)
        stack = np.stack([signals.record(int(row)) for row in rows])
        if length < window:
            stack = np.pad(stack, ((0, 0), (0, 0), (0, window - int(length))))
        for chunk in window_chunks(stack, window, stride, device, batch_size):
            yield WindowChunk(rows[chunk.rows], chunk.windows, chunk.n_windows)
