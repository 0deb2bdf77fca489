"""Streaming pretraining from memory-mapped shards: the same batches as the resident path,
disjoint rank slices, the stream-or-resident choice, and exact resume while streaming."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from bench.data.formats.shards import ShardedRecords, write_records
from bench.errors import ConfigError
from bench.training import streaming
from bench.training.batches import CropSampler, place_records
from bench.training.config import TrainConfig
from bench.training.loop import pretrain
from bench.training.streaming import StreamingSampler, crop_sampler, streams

pytestmark = pytest.mark.numeric

CPU = torch.device("cpu")
CONFIG = TrainConfig(
    epochs=3, batch_size=8, lr=1e-2, warmup_epochs=1, checkpoint_every=4, seed=3, device="cpu"
)


def corpus(folder: Path, lengths: list[int], leads: int = 3, seed: int = 0) -> ShardedRecords:
    rng = np.random.default_rng(seed)
    records = [rng.normal(size=(leads, n)).astype(np.float32) for n in lengths]
    return write_records(folder, records, shard_records=7)


@pytest.mark.parametrize("ragged", [False, True])
@pytest.mark.parametrize("workers", [0, 1])
def test_streaming_gives_the_resident_batches(tmp_path: Path, ragged: bool, workers: int) -> None:
    lengths = list(np.random.default_rng(1).integers(20, 90, 40)) if ragged else [64] * 40
    view = corpus(tmp_path / "c", [int(n) for n in lengths])
    resident = place_records(view.to_memory(), CPU)
    for rank in (0, 1):
        expected = CropSampler(resident, 32, 4, 5, CPU, rank, 2)
        streamed = StreamingSampler(view, 32, 4, 5, CPU, rank, 2, workers)
        assert streamed.steps_per_epoch == expected.steps_per_epoch
        for step in range(2 * expected.steps_per_epoch + 1):  # across epoch boundaries
            torch.testing.assert_close(streamed.batch(step), expected.batch(step), rtol=0, atol=0)


def test_ranks_read_disjoint_parts_of_each_epoch(tmp_path: Path) -> None:
    view = corpus(tmp_path / "c", [64] * 48)
    samplers = [StreamingSampler(view, 16, 4, 0, CPU, rank, 3) for rank in range(3)]
    steps = samplers[0].steps_per_epoch
    assert steps == 4  # 48 records / (4 x 3 ranks)
    for sampler in samplers:
        sampler.batch(0)
    seen = [
        sampler.plan[0].reshape(steps, 12)[:, r * 4 : (r + 1) * 4].flatten().tolist()
        for r, sampler in enumerate(samplers)
    ]
    assert all(len(set(part)) == steps * 4 for part in seen)
    assert set(seen[0]).isdisjoint(seen[1]) and set(seen[1]).isdisjoint(seen[2])
    assert len(set().union(*seen)) == 48


def test_the_budget_decides_stream_or_resident(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    view = corpus(tmp_path / "c", [64] * 20)
    assert view.nbytes == 20 * 3 * 64 * 4
    monkeypatch.setattr(streaming, "resident_budget", lambda device: view.nbytes)
    assert not streams(view, CPU)
    assert isinstance(crop_sampler(view, 32, 4, 0, CPU), CropSampler)
    monkeypatch.setattr(streaming, "resident_budget", lambda device: view.nbytes - 1)
    assert streams(view, CPU) and not streams(view.to_memory(), CPU)
    assert isinstance(crop_sampler(view, 32, 4, 0, CPU), StreamingSampler)
    monkeypatch.setenv("BENCH_STREAM", "never")
    assert not streams(view, CPU)
    monkeypatch.setenv("BENCH_STREAM", "sometimes")
    with pytest.raises(ConfigError, match="BENCH_STREAM='sometimes' is not one of"):
        streams(view, CPU)
    monkeypatch.setenv("BENCH_STREAM_WORKERS", "two")
    with pytest.raises(ConfigError, match="BENCH_STREAM_WORKERS='two'"):
        streaming.stream_workers()


def run(
    toys: Any, signals: Any, folder: Path, monkeypatch: pytest.MonkeyPatch, mode: str, **kw: Any
) -> Any:
    monkeypatch.setenv("BENCH_STREAM", mode)
    monkeypatch.setenv("BENCH_STREAM_WORKERS", "1")
    return pretrain(toys.build(), signals, CONFIG, folder, progress=False, **kw)


def test_streamed_pretraining_equals_resident_and_resumes_exactly(
    tmp_path: Path, toys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    view = write_records(tmp_path / "c", list(toys.signals()), shard_records=10)
    resident = run(toys, view, tmp_path / "resident", monkeypatch, "never")
    streamed = run(toys, view, tmp_path / "streamed", monkeypatch, "always")
    assert [r["loss"] for r in streamed.history] == [r["loss"] for r in resident.history]
    assert len(streamed.history) == 18  # 48 records / 8 = 6 steps x 3 epochs
    stopped = run(toys, view, tmp_path / "resumed", monkeypatch, "always", stop_at_step=7)
    assert stopped.steps == 7 and not stopped.finished
    resumed = run(toys, view, tmp_path / "resumed", monkeypatch, "always")
    assert [r["loss"] for r in resumed.history] == [r["loss"] for r in streamed.history]
