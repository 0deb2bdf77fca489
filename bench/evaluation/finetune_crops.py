"""Fine-tuning's training records on the device and its random crops of them."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from bench.data.formats.ragged import Ragged
from bench.training.flat_records import FlatRecords


def training_records(signals: np.ndarray | Ragged, device: torch.device) -> Tensor | FlatRecords:
    """Training records on ``device``: a tensor, or FlatRecords when their lengths differ
    (records shorter than the window are then never cropped, see bench.training.flat_records)."""
    if isinstance(signals, Ragged):
        return FlatRecords.from_ragged(signals, device)
    return torch.as_tensor(np.asarray(signals), dtype=torch.float32, device=device)


def random_crops(
    records: Tensor, batch: int, window: int, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """``batch`` random (record, offset) crops of ``window`` samples, drawn with replacement."""
    n_records, n_leads, length = records.shape
    rows = torch.randint(0, n_records, (batch,), generator=generator).to(records.device)
    offsets = torch.randint(0, length - window + 1, (batch,), generator=generator)
    time = offsets.to(records.device)[:, None, None] + torch.arange(window, device=records.device)
    leads = torch.arange(n_leads, device=records.device)[None, :, None]
    return rows, records[rows[:, None, None], leads, time]
