"""Batches for pretraining: seeded epoch permutations and random crops taken on the device."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
from torch import Tensor

from bench.data.formats.ragged import Ragged
from bench.errors import ConfigError
from bench.training.flat_records import FlatRecords

log = logging.getLogger(__name__)

DEVICE_MEMORY_SHARE = 0.5
"""Largest share of the free device memory the training records may take to live on the GPU."""


def fitted_batch(batch_size: int, world_size: int, n_records: int) -> tuple[int, str]:
    """(per-process batch, note): ``batch_size`` when ``batch_size x world_size`` records fit
    the ``n_records`` training records, else the batch capped to them (one step per epoch) with
    a note saying so and how to choose another (on small datasets, e.g. a 50-record sample, the
    profiles' batch of 64 would otherwise leave no step to train). ConfigError when fewer
    records than processes leave nothing to cap to."""
    if batch_size * world_size <= n_records:
        return batch_size, ""
    capped = n_records // world_size
    if capped < 1:
        raise ConfigError(
            f"{n_records} training records cannot give each of {world_size} processes a crop "
            "per step: train on fewer processes (--nproc)"
        )
    note = (
        f"train.batch_size {batch_size * world_size} exceeds the {n_records} training records: "
        f"capped to {capped * world_size} (one step per epoch); choose another with --set "
        "profile_overrides.train.batch_size=N (bench run) or --set train.batch_size=N "
        "(bench pretrain)"
    )
    return capped, note


def place_records(signals: np.ndarray | Ragged, device: torch.device) -> Tensor | FlatRecords:
    """The records as a float32 tensor where crops are cut from (FlatRecords when ragged).

    On CUDA the whole array moves to the device when it takes at most ``DEVICE_MEMORY_SHARE``
    of the free memory (PTB-XL at 100 Hz is about 1 GB); otherwise it stays in pinned host
    memory and each batch is gathered there and copied over. On CPU it is used in place when
    the array is writable, else copied once (torch cannot wrap read-only memory maps).
    """
    if isinstance(signals, Ragged):
        return FlatRecords.from_ragged(signals, device)
    array = np.ascontiguousarray(signals, dtype=np.float32)
    records = torch.from_numpy(array if array.flags.writeable else array.copy())
    if device.type != "cuda":
        return records
    free_bytes, _ = torch.cuda.mem_get_info(device)
    if records.nbytes <= DEVICE_MEMORY_SHARE * free_bytes:
        return records.to(device)
    return records.pin_memory()


class CropSampler:
    """Yields the batch of each step: ``batch_size`` random crops of ``crop_length`` samples.

    At the start of every epoch a seeded CPU ``torch.Generator`` draws a permutation of the
    records and one crop offset per slot (uniform over the positions that keep the crop inside
    its record); this plan moves to where the records live once per epoch, so a step is pure
    batched indexing there, with no host-device traffic. The permutation is cut into
    ``steps_per_epoch`` global batches of ``batch_size * world_size`` records (the remainder is
    dropped); process ``rank`` takes its own slice of each global batch, so N processes see
    exactly what one process with an N-times larger batch would; a batch larger than the
    records is capped to them (``fitted_batch``; ``note`` says so, '' otherwise). The plan is
    drawn on the CPU,
    so the crops are the same on every device. The state (generator, epoch, plan) is saved in
    checkpoints for exact resumption. Records of differing lengths (FlatRecords) draw each
    offset within the record's own span; records shorter than the crop are left out (logged).
    """

    def __init__(
        self,
        records: Tensor | FlatRecords,
        crop_length: int,
        batch_size: int,
        seed: int,
        device: torch.device,
        rank: int = 0,
        world_size: int = 1,
    ):
        n_records, n_leads, length = records.shape
        if crop_length > length:
            raise ConfigError(
                f"crop length {crop_length} samples exceeds the record length {length} samples"
            )
        self.population: Tensor | None = None
        if isinstance(records, FlatRecords):
            self.population = records.eligible(crop_length)
            if len(self.population) < n_records:
                log.warning(
                    "%d of %d records are shorter than the %d-sample crop and are not cropped",
                    n_records - len(self.population),
                    n_records,
                    crop_length,
                )
            n_records = len(self.population)
        batch_size, self.note = fitted_batch(batch_size, world_size, n_records)
        if self.note and rank == 0:
            log.warning(self.note)
        self.global_batch = batch_size * world_size
        self.steps_per_epoch = n_records // self.global_batch
        self.records = records
        self.crop_length = crop_length
        self.batch_size = batch_size
        self.rank = rank
        self.device = device
        self.generator = torch.Generator().manual_seed(seed)
        self.epoch = -1
        self.plan = torch.empty(2, 0, dtype=torch.long)  # (record, offset) per slot, on the CPU
        self._plan_here = self.plan
        self._time = torch.arange(crop_length, device=records.device)
        self._leads = torch.arange(n_leads, device=records.device)[None, :, None]

    def batch(self, step: int) -> Tensor:
        """The crops [batch_size, leads, crop_length] of 0-based global ``step``, on the device.

        Steps must be asked for in order (a new epoch advances the generator), as the loop does.
        """
        epoch, position = divmod(step, self.steps_per_epoch)
        if epoch != self.epoch:
            self._draw_epoch(epoch)
        start = position * self.global_batch + self.rank * self.batch_size
        rows, offsets = self._plan_here[:, start : start + self.batch_size]
        if isinstance(self.records, FlatRecords):
            crops = self.records.crops(rows, offsets, self.crop_length)
        else:
            time = offsets[:, None, None] + self._time[None, None, :]
            crops = self.records[rows[:, None, None], self._leads, time]
        return crops.to(self.device, non_blocking=True)

    def _draw_epoch(self, epoch: int) -> None:
        if isinstance(self.records, FlatRecords) and self.population is not None:
            self._draw_ragged_epoch(epoch, self.records, self.population)
            return
        n_records, _, length = self.records.shape
        rows = torch.randperm(n_records, generator=self.generator)
        slots = self.steps_per_epoch * self.global_batch
        offsets = torch.randint(
            0, length - self.crop_length + 1, (slots,), generator=self.generator
        )
        self._set_plan(epoch, torch.stack([rows[:slots], offsets]))

    def _draw_ragged_epoch(self, epoch: int, records: FlatRecords, population: Tensor) -> None:
        slots = self.steps_per_epoch * self.global_batch
        rows = population[torch.randperm(len(population), generator=self.generator)][:slots]
        spans = records.lengths.cpu()[rows] - self.crop_length + 1
        offsets = (torch.rand(slots, generator=self.generator) * spans).long()
        self._set_plan(epoch, torch.stack([rows, offsets]))

    def _set_plan(self, epoch: int, plan: Tensor) -> None:
        self.epoch, self.plan = epoch, plan
        if self.records.device.type == "cuda":
            plan = plan.pin_memory()
        self._plan_here = plan.to(self.records.device, non_blocking=True)

    def state_dict(self) -> dict[str, Any]:
        """Generator state, epoch and that epoch's plan (never modified in place)."""
        return {"generator": self.generator.get_state(), "epoch": self.epoch, "plan": self.plan}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned."""
        self.generator.set_state(state["generator"])
        self._set_plan(int(state["epoch"]), state["plan"].clone())
