"""Random crops of the pretraining loop: inside the records, right length, seeded, shardable."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.errors import ConfigError
from bench.training.batches import CropSampler, fitted_batch, place_records

N_RECORDS, N_LEADS, LENGTH, CROP = 20, 3, 50, 16
CPU = torch.device("cpu")


def labelled_records() -> torch.Tensor:
    """Each value encodes its own position: record * 10_000 + lead * 1_000 + time."""
    n, c, t = np.meshgrid(
        np.arange(N_RECORDS), np.arange(N_LEADS), np.arange(LENGTH), indexing="ij"
    )
    return place_records((n * 10_000 + c * 1_000 + t).astype(np.float32), CPU)


def sampler(seed: int = 0, batch_size: int = 4, rank: int = 0, world_size: int = 1) -> CropSampler:
    return CropSampler(labelled_records(), CROP, batch_size, seed, CPU, rank, world_size)


def decode(crops: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    values = crops.numpy().astype(np.int64)
    return values // 10_000, values % 10_000 // 1_000, values % 1_000


def test_crops_lie_inside_records_with_the_right_length() -> None:
    crops_sampler = sampler()
    assert crops_sampler.steps_per_epoch == 5
    starts = []
    for step in range(50):
        crops = crops_sampler.batch(step)
        assert crops.shape == (4, N_LEADS, CROP) and crops.dtype == torch.float32
        record, lead, time = decode(crops)
        assert (record == record[:, :1, :1]).all()  # one record per crop
        assert (lead == np.arange(N_LEADS)[None, :, None]).all()  # leads in order
        assert (np.diff(time, axis=-1) == 1).all()  # contiguous samples
        assert (time[..., 0] >= 0).all() and (time[..., -1] <= LENGTH - 1).all()
        starts.extend(time[:, 0, 0])
    assert min(starts) == 0 and max(starts) == LENGTH - CROP  # every offset reachable


def test_each_epoch_is_a_permutation_without_repeats() -> None:
    crops_sampler = sampler(batch_size=6)  # 20 // 6 = 3 steps, 2 records dropped
    for epoch in range(3):
        records = [decode(crops_sampler.batch(epoch * 3 + s))[0][:, 0, 0] for s in range(3)]
        seen = np.concatenate(records)
        assert len(seen) == 18 and len(set(seen)) == 18


def test_seeded_and_different_across_seeds() -> None:
    a, b, c = sampler(seed=1), sampler(seed=1), sampler(seed=2)
    batches = [[s.batch(step) for step in range(6)] for s in (a, b, c)]
    assert all(torch.equal(x, y) for x, y in zip(batches[0], batches[1], strict=True))
    assert not all(torch.equal(x, y) for x, y in zip(batches[0], batches[2], strict=True))


def test_state_round_trip_continues_identically() -> None:
    straight, stopped = sampler(seed=5), sampler(seed=5)
    expected = [straight.batch(step) for step in range(12)]
    for step in range(7):
        stopped.batch(step)
    resumed = sampler(seed=99)
    resumed.load_state_dict(stopped.state_dict())
    for step in range(7, 12):
        assert torch.equal(resumed.batch(step), expected[step])


def test_ranks_split_the_global_batch_of_one_process() -> None:
    single = sampler(seed=3, batch_size=4)
    ranks = [sampler(seed=3, batch_size=2, rank=r, world_size=2) for r in (0, 1)]
    assert ranks[0].steps_per_epoch == single.steps_per_epoch
    for step in range(10):
        together = torch.cat([rank.batch(step) for rank in ranks])
        assert torch.equal(together, single.batch(step))


def test_impossible_shapes_fail_clearly() -> None:
    with pytest.raises(ConfigError, match="crop length 60 samples exceeds the record length 50"):
        CropSampler(labelled_records(), 60, 4, 0, CPU)
    with pytest.raises(ConfigError, match="20 training records cannot give each of 32 proc"):
        CropSampler(labelled_records(), CROP, 16, 0, CPU, world_size=32)


def test_read_only_memmap_is_accepted(tmp_path: object) -> None:
    array = np.lib.format.open_memmap(
        f"{tmp_path}/x.npy", mode="w+", dtype=np.float32, shape=(4, 2, 8)
    )
    array[:] = 1.5
    array.flush()
    records = place_records(np.load(f"{tmp_path}/x.npy", mmap_mode="r"), CPU)
    assert records.shape == (4, 2, 8) and float(records.sum()) == 1.5 * 64


def test_a_batch_larger_than_the_records_is_capped_per_process() -> None:
    assert fitted_batch(4, 2, 20) == (4, "")
    per_process, note = fitted_batch(32, 2, 41)  # 32 per process, 64 in all
    assert per_process == 20 and "64 exceeds the 41 training records: capped to 40" in note
    capped = sampler(batch_size=32)
    assert capped.steps_per_epoch == 1 and capped.batch(0).shape[0] == N_RECORDS
    with pytest.raises(ConfigError, match="3 training records cannot give each of 4 processes"):
        fitted_batch(8, 4, 3)
