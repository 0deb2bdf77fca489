"""A corpus's records as one sequence over its datasets, without copying them.

``CorpusRecords`` indexes (dataset, row) pairs into each dataset's signals, whatever holds them:
a [N, leads, T] array (often a memory map), a ``Ragged`` set, or any sequence-like view with
``len`` and ``[row] -> [leads, T]`` or ``record(row)``
(``bench.data.formats.shards.ShardedRecords``).
``training_signals`` is what the pretraining loop gets: for a corpus of one dataset, a view of
its kept rows (a ``ShardedRecords`` view stays on disk, so the loop can stream it); for a
union of sharded datasets, one sharded view over all of them; for any other union, the records
copied into one array (all of one length) or a ``Ragged`` set.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.data.formats.ragged import Ragged
from bench.data.formats.shards import ShardedRecords

SECONDS_PER_HOUR = 3600.0


def record_of(signals: Any, row: int) -> np.ndarray:
    """Record ``row`` of ``signals`` as a float32 [leads, T] array (a view where possible)."""
    if hasattr(signals, "record"):
        return signals.record(row)
    return np.asarray(signals[row], dtype=np.float32)


def lengths_of(signals: Any) -> np.ndarray:
    """Samples of every record of ``signals`` (int64 [N])."""
    if isinstance(signals, Ragged) or hasattr(signals, "lengths"):
        return np.asarray(signals.lengths, dtype=np.int64)
    shape = getattr(signals, "shape", None)
    if shape is not None and len(shape) == 3:
        return np.full(shape[0], shape[-1], dtype=np.int64)
    return np.array([record_of(signals, i).shape[-1] for i in range(len(signals))], np.int64)


@dataclass(frozen=True)
class CorpusRecords:
    """The records of ``index`` ((part, row) pairs) over the signals of each part."""

    parts: tuple[Any, ...]
    index: np.ndarray
    n_leads: int
    sampling_rate: int

    def __post_init__(self) -> None:
        if self.index.ndim != 2 or self.index.shape[1] != 2:
            raise ValueError("CorpusRecords needs an int [N, 2] index of (part, row)")

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> np.ndarray:
        part, row = self.index[i]
        return record_of(self.parts[int(part)], int(row))

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self[i] for i in range(len(self)))

    @property
    def lengths(self) -> np.ndarray:
        """Samples of every record (int64 [N])."""
        per_part = [lengths_of(signals) for signals in self.parts]
        return np.array([per_part[int(p)][int(r)] for p, r in self.index], dtype=np.int64)

    @property
    def nbytes(self) -> int:
        """Bytes of the records as float32."""
        return int(self.lengths.sum()) * self.n_leads * 4

    @property
    def hours(self) -> float:
        """Hours of ECG."""
        return float(self.lengths.sum()) / self.sampling_rate / SECONDS_PER_HOUR

    def training_signals(self) -> Any:
        """The records for the pretraining loop, in corpus order: a view of the one dataset's
        kept rows; for a union of sharded datasets one sharded view (still on disk, so the
        loop can stream it); else the union copied into memory (``materialise``)."""
        if len(self.parts) > 1 and all(isinstance(p, ShardedRecords) for p in self.parts):
            offsets = np.cumsum([0] + [len(part) for part in self.parts[:-1]])
            union = ShardedRecords.union(self.parts)
            return union[offsets[self.index[:, 0]] + self.index[:, 1]]
        if len(self.parts) == 1:
            signals = self.parts[0]
            rows = self.index[:, 1]
            if isinstance(signals, np.ndarray):
                return np.ascontiguousarray(signals[rows], dtype=np.float32)
            return signals[rows]
        return self.materialise()

    def materialise(self) -> np.ndarray | Ragged:
        """The records copied into a [N, leads, T] array (one length) or a Ragged set."""
        records: Sequence[np.ndarray] = [self[i] for i in range(len(self))]
        lengths = {record.shape[-1] for record in records}
        if len(lengths) == 1:
            return np.ascontiguousarray(np.stack(records), dtype=np.float32)
        return Ragged.from_records(list(records), self.n_leads)
