"""The in-memory form every dataset reader produces, and the official split convention."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from bench.data.formats.ragged import Ragged
from bench.data.formats.shards import ShardedRecords

Split = Literal["train", "val", "test"]

TRAIN_FOLDS: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8)
VAL_FOLDS: tuple[int, ...] = (9,)
TEST_FOLDS: tuple[int, ...] = (10,)
SPLIT_FOLDS: dict[str, tuple[int, ...]] = {
    "train": TRAIN_FOLDS,
    "val": VAL_FOLDS,
    "test": TEST_FOLDS,
}

CANONICAL_LEADS: tuple[str, ...] = (
    "I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6",
)  # fmt: skip
INDEPENDENT_LEADS: tuple[str, ...] = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")

REQUIRED_META_COLUMNS: tuple[str, ...] = ("record_id", "patient_id", "fold")


@dataclass(frozen=True)
class SignalSet:
    """Signals of one dataset plus one metadata row per record.

    ``signals`` is float32 [N, leads, T] (often a read-only memory map), or a ``Ragged`` set of
    records of differing lengths (stored unpadded, see bench.data.formats.ragged), or memory-mapped
    ``ShardedRecords`` (bench.data.formats.shards, for caches beyond memory); ``meta`` has at least
    ``record_id``, ``patient_id`` and ``fold`` (1-8 train, 9 validation, 10 test), row i
    describing ``signals[i]``. ``fingerprint`` identifies the content and every processing step.
    ``tables`` holds dataset-level tables that tasks need (e.g. PTB-XL's scp_statements).
    ``fold_spec`` says where the folds come from: empty for a dataset's official folds, else
    the assignment's method, version and seed (bench.data.folds), kept in result provenance.
    """

    name: str
    signals: np.ndarray | Ragged | ShardedRecords
    meta: pd.DataFrame
    sampling_rate: int
    lead_names: tuple[str, ...]
    fingerprint: str
    tables: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    fold_spec: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.signals, (Ragged, ShardedRecords)):
            if self.signals.n_leads != len(self.lead_names):
                raise ValueError(
                    f"{self.name}: ragged signals have {self.signals.n_leads} leads, "
                    f"lead names {len(self.lead_names)}"
                )
        elif self.signals.ndim != 3 or self.signals.shape[1] != len(self.lead_names):
            raise ValueError(
                f"{self.name}: signals must be [N, {len(self.lead_names)}, T], "
                f"got {self.signals.shape}"
            )
        if len(self.meta) != len(self.signals):
            raise ValueError(
                f"{self.name}: {len(self.meta)} metadata rows for {len(self.signals)} records"
            )
        missing = [c for c in REQUIRED_META_COLUMNS if c not in self.meta.columns]
        if missing:
            raise ValueError(f"{self.name}: metadata lacks columns {missing}")

    @property
    def lengths(self) -> np.ndarray:
        """Valid samples of every record (int64 [N]); all T for a [N, leads, T] array."""
        if isinstance(self.signals, (Ragged, ShardedRecords)):
            return self.signals.lengths
        return np.full(len(self.signals), self.signals.shape[-1], dtype=np.int64)

    def split_indices(self, split: Split) -> np.ndarray:
        """Row indices of the records in ``split`` (by the official folds)."""
        if split not in SPLIT_FOLDS:
            raise ValueError(f"unknown split {split!r}; use one of {', '.join(SPLIT_FOLDS)}")
        return np.flatnonzero(self.meta["fold"].isin(SPLIT_FOLDS[split]).to_numpy())
