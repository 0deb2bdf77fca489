"""Pretraining crops from records of differing lengths: inside each record's valid span,
short records left out, seeded and resumable."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.data.formats.ragged import Ragged
from bench.errors import ConfigError
from bench.training.batches import CropSampler, place_records
from bench.training.flat_records import FlatRecords

CPU = torch.device("cpu")
LENGTHS = [50, 10, 30, 16, 70, 40, 12, 25]
CROP = 16


def labelled() -> Ragged:
    """Each value encodes its position: record * 10_000 + lead * 1_000 + time."""
    parts = [
        (row * 10_000 + np.arange(3)[:, None] * 1_000 + np.arange(n)[None, :]).astype(np.float32)
        for row, n in enumerate(LENGTHS)
    ]
    return Ragged.from_records(parts, 3)


def decode(crops: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    values = crops.numpy().astype(np.int64)
    return values // 10_000, values % 10_000 // 1_000, values % 1_000


def test_crops_lie_inside_each_records_span(caplog) -> None:
    records = place_records(labelled(), CPU)
    assert isinstance(records, FlatRecords) and records.shape == (8, 3, 70)
    sampler = CropSampler(records, CROP, 2, 0, CPU)
    assert "2 of 8 records are shorter than the 16-sample crop" in caplog.text
    assert sampler.steps_per_epoch == 3  # 6 records long enough, batches of 2
    seen = set()
    for step in range(6):
        rows, leads, time = decode(sampler.batch(step))
        assert (rows == rows[:, :1, :1]).all() and (leads == np.arange(3)[None, :, None]).all()
        assert (np.diff(time, axis=-1) == 1).all()
        for row, end in zip(rows[:, 0, 0], time[:, 0, -1], strict=True):
            assert end < LENGTHS[row]
            seen.add(int(row))
    assert seen <= {0, 2, 3, 4, 5, 7} and 1 not in seen and 6 not in seen


def test_seeded_and_resumable() -> None:
    records = place_records(labelled(), CPU)
    first = CropSampler(records, CROP, 2, 3, CPU)
    batches = [first.batch(step) for step in range(4)]
    again = CropSampler(records, CROP, 2, 3, CPU)
    assert all(torch.equal(a, again.batch(s)) for s, a in enumerate(batches))
    resumed = CropSampler(records, CROP, 2, 99, CPU)
    partial = CropSampler(records, CROP, 2, 3, CPU)
    partial.batch(0)
    resumed.load_state_dict(partial.state_dict())
    assert torch.equal(resumed.batch(1), batches[1])


def test_random_crops_with_replacement() -> None:
    records = place_records(labelled(), CPU)
    assert isinstance(records, FlatRecords)
    population = records.eligible(CROP)
    rows, crops = records.random_crops(population, 32, CROP, torch.Generator().manual_seed(0))
    decoded, _, time = decode(crops)
    assert (decoded[:, 0, 0] == rows.numpy()).all()
    assert all(time[i, 0, -1] < LENGTHS[r] for i, r in enumerate(rows.tolist()))


def test_no_record_long_enough() -> None:
    records = place_records(labelled(), CPU)
    with pytest.raises(ConfigError, match="exceeds the record length 70"):
        CropSampler(records, 71, 2, 0, CPU)
