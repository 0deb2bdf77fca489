"""Variable-length records in one flat array: record i is ``flat[starts[i]:starts[i+1]]``
reshaped to [leads, lengths[i]] (record-major, each record's leads contiguous).

Datasets whose records differ in length (CinC: 5 s to 30 min) are stored and loaded this way
instead of being padded to the longest record. When every record has the same length the cache
is loaded as a plain [N, leads, T] view instead (see ``as_array``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Ragged:
    """Records of ``n_leads`` leads and differing lengths, backed by one 1-D float32 array.

    ``offsets`` (int64 [N + 1]) are positions in samples per lead: record i covers time samples
    ``offsets[i]`` to ``offsets[i + 1]``, i.e. ``flat[offsets[i] * n_leads : offsets[i + 1] *
    n_leads]``.
    """

    flat: np.ndarray
    offsets: np.ndarray
    n_leads: int

    def __post_init__(self) -> None:
        if self.flat.ndim != 1 or self.offsets.ndim != 1 or len(self.offsets) < 1:
            raise ValueError("Ragged needs a 1-D flat array and 1-D offsets")
        if int(self.offsets[-1]) * self.n_leads != len(self.flat):
            raise ValueError(
                f"offsets end at {int(self.offsets[-1])} samples x {self.n_leads} leads, "
                f"but the flat array holds {len(self.flat)} values"
            )
        if np.any(np.diff(self.offsets) < 0):
            raise ValueError("Ragged offsets must not decrease")

    @classmethod
    def from_records(cls, records: list[np.ndarray], n_leads: int) -> Ragged:
        """Stack [n_leads, T_i] arrays into one Ragged (in memory)."""
        lengths = np.array([r.shape[-1] for r in records], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        flat = (
            np.concatenate([np.asarray(r, np.float32).ravel() for r in records])
            if records
            else np.zeros(0, np.float32)
        )
        return cls(flat, offsets, n_leads)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        """Samples of every record (int64 [N])."""
        return np.diff(self.offsets)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(records, leads, longest length), for messages and size checks."""
        longest = int(self.lengths.max()) if len(self) else 0
        return (len(self), self.n_leads, longest)

    def record(self, index: int) -> np.ndarray:
        """Record ``index`` as a [n_leads, T_i] view."""
        start, end = int(self.offsets[index]), int(self.offsets[index + 1])
        return self.flat[start * self.n_leads : end * self.n_leads].reshape(self.n_leads, -1)

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self.record(i) for i in range(len(self)))

    def __getitem__(self, rows: np.ndarray | list[int] | slice) -> Ragged:
        """The records at ``rows`` (in that order), copied into memory."""
        picked = np.arange(len(self))[rows]
        return Ragged.from_records([self.record(int(i)) for i in picked], self.n_leads)

    def as_array(self) -> np.ndarray | None:
        """A zero-copy [N, leads, T] view when every record has the same length, else None."""
        lengths = self.lengths
        if len(lengths) == 0 or np.any(lengths != lengths[0]):
            return None
        return self.flat.reshape(len(self), self.n_leads, int(lengths[0]))

    def map_by_length(self, function: Callable[[np.ndarray], np.ndarray]) -> Ragged:
        """Apply ``function`` ([n, leads, T] -> [n, leads', T']) to records of equal length
        together (vectorised per length) and return the results in record order."""
        results: list[np.ndarray] = [np.zeros(0)] * len(self)
        lengths = self.lengths
        for length in np.unique(lengths):
            rows = np.flatnonzero(lengths == length)
            stack = np.stack([self.record(int(i)) for i in rows])
            for row, output in zip(rows, function(stack), strict=True):
                results[int(row)] = output
        n_leads = results[0].shape[0] if results else self.n_leads
        return Ragged.from_records(results, n_leads)
