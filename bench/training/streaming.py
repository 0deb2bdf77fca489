"""Streaming pretraining crops from memory-mapped shards, for corpora beyond memory.

Which data path a pretraining takes (``crop_sampler``):
- records in memory (arrays, ``Ragged``): today's path, unchanged (``CropSampler`` on the
  device or in pinned memory, bench.training.batches);
- ``ShardedRecords`` (bench.data.formats.shards) whose float32 size fits the budget: decoded into
  memory once, then the same path. The budget is ``DEVICE_MEMORY_SHARE`` (0.5) of the free
  GPU memory on CUDA, ``HOST_MEMORY_SHARE`` (0.25) of the machine's RAM on CPU;
- larger ``ShardedRecords``: streamed. A ``torch.utils.data.DataLoader`` with background
  workers (``BENCH_STREAM_WORKERS``, default ``DEFAULT_WORKERS`` capped by the cores) reads
  each step's crops from the memory maps, ``PREFETCH`` steps ahead per worker, into pinned
  memory on CUDA; a worker closes its maps every ``RELEASE_EVERY`` steps, so the mapped pages
  it holds (counted in its RSS) stay bounded however large the corpus.
``BENCH_STREAM=always|never`` overrides the choice (``auto`` by default). It changes how a run
executes, not what it learns: the streaming sampler draws exactly ``CropSampler``'s plan (the
same seeded permutation and offsets per epoch, the same records' crops per step), so both paths
give the same batches, and run keys do not depend on it.

DDP: as ``CropSampler``, every epoch's permutation is cut into global batches and rank r reads
only its own slice of each (``batch_size`` crops), so the ranks read disjoint parts of each
epoch (a DistributedSampler without padding: the remainder of the epoch is dropped). Every
rank and node opens the same prepared cache folder: put the cache on a filesystem all nodes
mount (``BENCH_CACHE_DIR``), prepare it once, and the memory maps read it from there.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from bench.data.formats.ragged import Ragged
from bench.data.formats.shards import ShardedRecords
from bench.errors import ConfigError
from bench.training.batches import DEVICE_MEMORY_SHARE, CropSampler, fitted_batch, place_records

log = logging.getLogger(__name__)

HOST_MEMORY_SHARE = 0.25
DEFAULT_WORKERS = 4
PREFETCH = 4
RELEASE_EVERY = 8  # steps after which a reader closes its memory maps
STREAM_ENV = "BENCH_STREAM"
WORKERS_ENV = "BENCH_STREAM_WORKERS"
MODES = ("auto", "always", "never")


def resident_budget(device: torch.device) -> int:
    """Bytes of float32 records a pretraining keeps resident (see the module docstring)."""
    if device.type == "cuda":
        free_bytes, _ = torch.cuda.mem_get_info(device)
        return int(DEVICE_MEMORY_SHARE * free_bytes)
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return int(HOST_MEMORY_SHARE * total)


def streams(signals: np.ndarray | Ragged | ShardedRecords, device: torch.device) -> bool:
    """Whether ``signals`` are streamed from their shards rather than held in memory."""
    mode = os.environ.get(STREAM_ENV, "auto") or "auto"
    if mode not in MODES:
        raise ConfigError(f"{STREAM_ENV}={mode!r} is not one of {', '.join(MODES)}")
    if not isinstance(signals, ShardedRecords) or mode == "never":
        return False
    return mode == "always" or signals.nbytes > resident_budget(device)


def stream_workers() -> int:
    """Background reader processes (``BENCH_STREAM_WORKERS``; 0 reads in the training process)."""
    value = os.environ.get(WORKERS_ENV, "")
    if value:
        if not value.isdigit():
            raise ConfigError(f"{WORKERS_ENV}={value!r} must be a whole number")
        return int(value)
    return max(1, min(DEFAULT_WORKERS, (os.cpu_count() or 2) - 1))


def crop_sampler(
    signals: np.ndarray | Ragged | ShardedRecords,
    crop_length: int,
    batch_size: int,
    seed: int,
    device: torch.device,
    rank: int = 0,
    world_size: int = 1,
) -> CropSampler | StreamingSampler:
    """The sampler of a pretraining on ``signals`` (streaming or resident, see module doc)."""
    if streams(signals, device):
        assert isinstance(signals, ShardedRecords)
        return StreamingSampler(
            signals, crop_length, batch_size, seed, device, rank, world_size, stream_workers()
        )
    if isinstance(signals, ShardedRecords):
        signals = signals.to_memory()
    records = place_records(signals, device)
    return CropSampler(records, crop_length, batch_size, seed, device, rank, world_size)


class StepCrops(Dataset):
    """Item k: the crops [batch, leads, crop_length] of the k-th remaining step of an epoch."""

    def __init__(
        self, records: ShardedRecords, rows: np.ndarray, offsets: np.ndarray, crop_length: int
    ):
        self.records, self.rows, self.offsets = records, rows, offsets
        self.crop_length = crop_length

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, step: int) -> Tensor:
        crops = self.records.crops(self.rows[step], self.offsets[step], self.crop_length)
        if step % RELEASE_EVERY == RELEASE_EVERY - 1:
            self.records.release()  # mapped pages count in RSS: keep them bounded
        return torch.from_numpy(crops)


class StreamingSampler:
    """``CropSampler``'s plan and state, with crops read by background workers from shards."""

    def __init__(
        self,
        records: ShardedRecords,
        crop_length: int,
        batch_size: int,
        seed: int,
        device: torch.device,
        rank: int = 0,
        world_size: int = 1,
        workers: int = 0,
    ):
        lengths = torch.from_numpy(records.lengths.astype(np.int64))
        longest = int(lengths.max()) if len(lengths) else 0
        if crop_length > longest:
            raise ConfigError(
                f"crop length {crop_length} samples exceeds the record length {longest} samples"
            )
        self.same_length = bool(len(lengths) and torch.all(lengths == lengths[0]))
        self.population = torch.nonzero(lengths >= crop_length).flatten()
        if len(self.population) < len(records):
            log.warning(
                "%d of %d records are shorter than the %d-sample crop and are not cropped",
                len(records) - len(self.population), len(records), crop_length,
            )  # fmt: skip
        batch_size, self.note = fitted_batch(batch_size, world_size, len(self.population))
        if self.note and rank == 0:
            log.warning(self.note)
        self.global_batch = batch_size * world_size
        self.steps_per_epoch = len(self.population) // self.global_batch
        self.records, self.lengths = records, lengths
        self.crop_length, self.batch_size, self.rank = crop_length, batch_size, rank
        self.device, self.workers = device, workers
        self.generator = torch.Generator().manual_seed(seed)
        self.epoch = -1
        self.plan = torch.empty(2, 0, dtype=torch.long)
        self._batches: Iterator[Tensor] | None = None
        self._next_step = -1

    def batch(self, step: int) -> Tensor:
        """The crops [batch_size, leads, crop_length] of 0-based global ``step`` (in order)."""
        epoch, position = divmod(step, self.steps_per_epoch)
        if epoch != self.epoch:
            self._draw_epoch(epoch)
        if self._batches is None or step != self._next_step:
            self._batches = self._reader(position)
        self._next_step = step + 1
        return next(self._batches).to(self.device, non_blocking=True)

    def _reader(self, position: int) -> Iterator[Tensor]:
        """Background reading of this rank's crops from step ``position`` to the epoch's end."""
        steps = self.plan.shape[1] // self.global_batch
        plan = self.plan.numpy().reshape(2, steps, self.global_batch)
        mine = plan[:, position:, self.rank * self.batch_size : (self.rank + 1) * self.batch_size]
        dataset = StepCrops(self.records, mine[0], mine[1], self.crop_length)
        loader = DataLoader(
            dataset,
            batch_size=None,
            shuffle=False,
            num_workers=self.workers,
            pin_memory=self.device.type == "cuda",
            prefetch_factor=PREFETCH if self.workers else None,
            generator=torch.Generator().manual_seed(self.epoch),  # leaves the global RNG alone
        )
        return iter(loader)

    def _draw_epoch(self, epoch: int) -> None:
        """The plan ``CropSampler`` draws for the same records (same generator calls)."""
        slots = self.steps_per_epoch * self.global_batch
        if self.same_length:
            rows = torch.randperm(len(self.lengths), generator=self.generator)
            span = int(self.lengths[0]) - self.crop_length + 1
            offsets = torch.randint(0, span, (slots,), generator=self.generator)
            plan = torch.stack([rows[:slots], offsets])
        else:
            order = torch.randperm(len(self.population), generator=self.generator)
            rows = self.population[order][:slots]
            spans = self.lengths[rows] - self.crop_length + 1
            offsets = (torch.rand(slots, generator=self.generator) * spans).long()
            plan = torch.stack([rows, offsets])
        self._set_plan(epoch, plan)

    def _set_plan(self, epoch: int, plan: Tensor) -> None:
        self.epoch, self.plan = epoch, plan
        self._batches = None

    def state_dict(self) -> dict[str, Any]:
        """Generator state, epoch and that epoch's plan (as ``CropSampler``'s)."""
        return {"generator": self.generator.get_state(), "epoch": self.epoch, "plan": self.plan}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned (also one written by ``CropSampler``)."""
        self.generator.set_state(state["generator"])
        self._set_plan(int(state["epoch"]), state["plan"].clone())
