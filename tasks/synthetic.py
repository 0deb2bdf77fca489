"""Task "synthetic": five multi-label targets of the generated 12-lead ECGs (no download)."""

from __future__ import annotations

import numpy as np

from bench.data.signals import SignalSet
from bench.data.synthetic.generator import LABEL_NAMES
from bench.errors import DataError
from bench.task import Labels, Task, register_task


class SyntheticTask(Task):
    """Bradycardia, tachycardia, irregular rhythm, wide QRS and ST shift on synthetic ECGs."""

    name = "synthetic"
    version = "1"
    dataset = "synthetic"
    group = "synthetic"

    def labels(self, data: SignalSet) -> Labels:
        """The label columns the generator wrote into ``meta``; every record is kept."""
        missing = [name for name in LABEL_NAMES if name not in data.meta.columns]
        if missing:
            raise DataError(f"{data.name}: metadata lacks the synthetic label columns {missing}")
        values = data.meta[list(LABEL_NAMES)].to_numpy(np.float32)
        return Labels(values=values, names=LABEL_NAMES, keep=np.ones(len(values), dtype=bool))


register_task(SyntheticTask())
