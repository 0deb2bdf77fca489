"""Download-free tasks of the other kinds on the generated ECGs (from the generating parameters).

- ``synthetic-hr``: regression of the heart rate (bpm), main metric MAE;
- ``synthetic-rhythm``: one rate class per record (brady < 60 bpm, normal, tachy > 100 bpm, as
  the multi-label task's thresholds), multiclass, main metric accuracy.
Every record is kept.
"""

from __future__ import annotations

import numpy as np

from bench.data.signals import SignalSet
from bench.errors import DataError
from bench.task import Labels, Task, register_task

RATE_CLASSES: tuple[str, ...] = ("brady", "normal", "tachy")
RATE_EDGES: tuple[float, float] = (60.0, 100.0)
TARGETS: tuple[str, ...] = ("hr_bpm",)


def _parameters(data: SignalSet, columns: tuple[str, ...], task: str) -> np.ndarray:
    table = data.tables.get("parameters")
    if table is None or any(c not in table.columns for c in columns):
        raise DataError(f"{task} needs the generator's parameters {list(columns)} ({data.name})")
    if not np.array_equal(table["record_id"].to_numpy(), data.meta["record_id"].to_numpy()):
        raise DataError(f"{task}: parameters and metadata of {data.name} are not row-aligned")
    return table[list(columns)].to_numpy(np.float64)


class SyntheticRegression(Task):
    """Heart rate (bpm) of each generated record."""

    name = "synthetic-hr"
    group = "synthetic-hr"
    dataset = "synthetic"
    version = "1"
    kind = "regression"
    main_metric = "mae"

    def labels(self, data: SignalSet) -> Labels:
        """The generating heart rate."""
        values = _parameters(data, TARGETS, self.name).astype(np.float32)
        return Labels(values=values, names=TARGETS, keep=np.ones(len(values), dtype=bool))


class SyntheticRhythm(Task):
    """Brady / normal / tachy by the generating heart rate, one class per record."""

    name = "synthetic-rhythm"
    group = "synthetic-rhythm"
    dataset = "synthetic"
    version = "1"
    kind = "multiclass"
    main_metric = "accuracy"

    def labels(self, data: SignalSet) -> Labels:
        """One-hot rate class."""
        rate = _parameters(data, ("hr_bpm",), self.name)[:, 0]
        classes = np.where(rate < RATE_EDGES[0], 0, np.where(rate > RATE_EDGES[1], 2, 1))
        values = np.eye(len(RATE_CLASSES), dtype=np.float32)[classes]
        return Labels(values=values, names=RATE_CLASSES, keep=np.ones(len(values), dtype=bool))


register_task(SyntheticRegression())
register_task(SyntheticRhythm())
