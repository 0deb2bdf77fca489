"""Task "cpsc2018": the nine CPSC 2018 classes (multi-label, 1-3 per record) on the
deterministic stratified folds of the cpsc2018 source (no official folds exist)."""

from __future__ import annotations

import numpy as np

from bench.data.signals import SignalSet
from bench.data.sources.cpsc2018 import CLASSES
from bench.errors import DataError
from bench.task import Labels, Task, register_task

CLASS_NAMES: tuple[str, ...] = tuple(CLASSES.values())


class CPSC2018Task(Task):
    """Normal, AF, I-AVB, LBBB, RBBB, PAC, PVC, STD, STE; records without a class dropped."""

    name = "cpsc2018"
    version = "1"
    dataset = "cpsc2018"
    group = "cpsc2018"

    def labels(self, data: SignalSet) -> Labels:
        """Multi-hot classes from the cache's ``labels`` column."""
        if "labels" not in data.meta.columns:
            raise DataError(f"{data.name}: metadata lacks the CPSC 2018 'labels' column")
        column = {name: i for i, name in enumerate(CLASS_NAMES)}
        values = np.zeros((len(data.meta), len(CLASS_NAMES)), dtype=np.float32)
        for row, labels in enumerate(data.meta["labels"]):
            values[row, [column[label] for label in labels if label in column]] = 1.0
        return Labels(values=values, names=CLASS_NAMES, keep=values.any(axis=1))


register_task(CPSC2018Task())
