"""Frozen token features of whole records, the attentive probe's input.

A record is cut into the evaluation's windows (``bench.evaluation.windows``, short records
zero-padded as there); each window's ``Encoder.token_grid`` ([leads or 1, T', D]) keeps at most
``steps`` time steps per lead (adaptive mean pooling over time where T' is longer, e.g. CPC's
one context per sample), and the record's tokens are those of all its windows: windows x
leads x steps tokens of ``feature_dim`` values, stored as float16. Records of differing
lengths have differing token counts, so a set of records is one flat [tokens, D] array with
each record's start and length.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from bench.data.formats.ragged import Ragged
from bench.encoders.base import Encoder
from bench.evaluation.windows import window_chunks

TOKEN_DTYPE = np.float16


@dataclass(frozen=True)
class RecordTokens:
    """Tokens of N records: record i's are ``values[starts[i] : starts[i] + lengths[i]]``."""

    values: np.ndarray  # [total tokens, D], float16 (possibly memory-mapped)
    starts: np.ndarray  # int64 [N]
    lengths: np.ndarray  # int64 [N]

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, rows: np.ndarray) -> RecordTokens:
        """The records ``rows`` (a view: the values are not copied)."""
        return RecordTokens(self.values, self.starts[rows], self.lengths[rows])

    @property
    def dim(self) -> int:
        """Values per token."""
        return int(self.values.shape[1])

    def batch(self, rows: np.ndarray, device: torch.device) -> tuple[Tensor, Tensor | None]:
        """Tokens of ``rows`` as float32 [B, longest, D] on ``device``, and the padding mask
        [B, longest] (True: padding; None when every record has the same count)."""
        lengths = self.lengths[rows]
        longest = int(lengths.max())
        steps = np.arange(longest)
        index = self.starts[rows][:, None] + np.minimum(steps, lengths[:, None] - 1)
        tokens = torch.as_tensor(np.asarray(self.values[index]), device=device).float()
        if (lengths == longest).all():
            return tokens, None
        padding = torch.as_tensor(steps[None, :] >= lengths[:, None], device=device)
        return tokens.masked_fill(padding[..., None], 0.0), padding


def pool_steps(grid: Tensor, steps: int) -> Tensor:
    """[B, L, T', D] -> [B, L, min(T', steps), D]: adaptive mean pooling over time."""
    if grid.shape[2] <= steps:
        return grid
    batch, leads, length, dim = grid.shape
    flat = grid.permute(0, 1, 3, 2).reshape(batch * leads, dim, length)
    pooled = nn.functional.adaptive_avg_pool1d(flat, steps)
    return pooled.reshape(batch, leads, dim, steps).permute(0, 1, 3, 2)


@torch.no_grad()
def record_tokens(
    encoder: Encoder,
    signals: np.ndarray | Ragged,
    window: int,
    stride: int,
    steps: int,
    device: torch.device,
    batch_size: int = 256,
) -> RecordTokens:
    """Token features of every record of ``signals`` (record order), computed in memory."""
    encoder = encoder.to(device).eval()
    per_record: list[np.ndarray | None] = [None] * len(signals)
    for chunk in window_chunks(signals, window, stride, device, batch_size):
        grid = pool_steps(encoder.token_grid(chunk.windows).float(), steps)
        tokens = grid.reshape(len(chunk.rows), -1, grid.shape[-1]).cpu().numpy()
        for row, record in zip(chunk.rows, tokens.astype(TOKEN_DTYPE), strict=True):
            per_record[int(row)] = record
    records = [r for r in per_record if r is not None]
    assert len(records) == len(signals), "window_chunks windows every record"
    lengths = np.array([len(r) for r in records], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    return RecordTokens(np.concatenate(records), starts, lengths)
