"""Records of differing lengths where crops are cut from: one flat tensor plus offsets.

The ``Ragged`` layout of the data layer (record-major, each record's leads contiguous) moved
as is to a tensor, so a batch of crops is one gather, on the GPU when the records fit there.
Short-record policy for training crops: records shorter than the crop are dropped from the
crops' population and reported (``eligible``); each crop's offset is uniform over the
positions that keep it inside its own record's valid span.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from bench.data.formats.ragged import Ragged


@dataclass(frozen=True)
class FlatRecords:
    """``flat`` [total samples x leads], ``starts`` (element offset of each record),
    ``lengths`` (samples of each record); all on one device."""

    flat: Tensor
    starts: Tensor
    lengths: Tensor
    n_leads: int

    @classmethod
    def from_ragged(cls, signals: Ragged, device: torch.device) -> FlatRecords:
        """Copy ``signals`` to ``device`` (pinned host memory stands in for a full GPU)."""
        flat = torch.from_numpy(signals.flat.astype("float32", copy=True))
        offsets = torch.from_numpy(signals.offsets.astype("int64", copy=True))
        starts, lengths = offsets[:-1] * signals.n_leads, offsets[1:] - offsets[:-1]
        if device.type == "cuda":
            free_bytes, _ = torch.cuda.mem_get_info(device)
            place = device if flat.nbytes <= free_bytes // 2 else None
            flat = flat.to(place) if place is not None else flat.pin_memory()
        return cls(flat, starts.to(flat.device), lengths.to(flat.device), signals.n_leads)

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def device(self) -> torch.device:
        """Where the records live."""
        return self.flat.device

    @property
    def shape(self) -> tuple[int, int, int]:
        """(records, leads, longest length)."""
        return (len(self.lengths), self.n_leads, int(self.lengths.max()))

    def eligible(self, crop_length: int) -> Tensor:
        """Indices (CPU) of the records at least ``crop_length`` samples long."""
        return torch.nonzero(self.lengths.cpu() >= crop_length).flatten()

    def random_crops(
        self, population: Tensor, batch: int, crop_length: int, generator: torch.Generator
    ) -> tuple[Tensor, Tensor]:
        """``batch`` crops of records drawn with replacement from ``population`` (CPU), each at
        a uniform offset inside its record; returns (rows, crops) on the records' device."""
        rows = population[torch.randint(0, len(population), (batch,), generator=generator)]
        spans = self.lengths.cpu()[rows] - crop_length + 1
        offsets = (torch.rand(batch, generator=generator) * spans).long()
        rows, offsets = rows.to(self.device), offsets.to(self.device)
        return rows, self.crops(rows, offsets, crop_length)

    def crops(self, rows: Tensor, offsets: Tensor, crop_length: int) -> Tensor:
        """[B, leads, crop_length] crops of records ``rows`` from ``offsets`` (both on device)."""
        time = torch.arange(crop_length, device=self.device)[None, None, :]
        leads = torch.arange(self.n_leads, device=self.device)[None, :, None]
        base = self.starts[rows][:, None, None] + offsets[:, None, None]
        index = base + leads * self.lengths[rows][:, None, None] + time
        return self.flat[index]
