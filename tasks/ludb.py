"""LUDB wave delineation (``ludb-delineation``): per-sample P / QRS / T masks of all 12 leads.

Labels come from the cardiologists' per-lead annotations that the ``ludb`` source stores in its
``annotations`` table (onset, peak, offset in samples at the loaded rate). For every lead a mask
[T] holds 0 background, 1 P, 2 QRS, 3 T (a wave covers onset..offset inclusive) and -1
(unscored) before the lead's first and after its last annotation mark. A wave whose onset or
offset is not marked (about 160 of 58,423) is unscored from just after the previous wave's last
mark to just before the next wave's first mark, so that no made-up boundary is scored.

All 12 leads form one task (the default, documented choice): a record's input is its 12-lead
signal and its target the 12 masks, labels [N, 12, T]; heads predict every lead's mask and the
metrics pool every (record, lead) pair, with bootstrap CIs over records. Folds are the ``ludb``
source's seeded ten folds: train 1-8, validation 9, test 10; LUDB has one record per patient,
so they are patient-level. With 160 training records the default label fractions are coarse;
the task declares its own: 10 %, 25 %, 50 % and 100 %.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.data.signals import SignalSet
from bench.errors import DataError
from bench.task import SEGMENTATION_CLASSES, UNSCORED, Labels, Task, register_task

WAVE_CLASSES: dict[str, int] = {"P": 1, "QRS": 2, "T": 3}
COLUMNS = ("record_id", "lead", "wave", "onset", "peak", "offset")


def lead_mask(waves: pd.DataFrame, length: int) -> np.ndarray:
    """The int8 mask [length] of one lead's waves (see the module docstring); all unscored
    when the lead has no annotation."""
    mask = np.full(length, UNSCORED, dtype=np.int8)
    if waves.empty:
        return mask
    waves = waves.sort_values("peak", kind="stable")
    marks = waves[["onset", "peak", "offset"]].to_numpy(np.int64)
    first = marks[marks >= 0].min()
    last = marks.max()
    if first >= length or last < 0:
        raise DataError(f"annotation marks {first}..{last} lie outside the {length}-sample lead")
    mask[first : min(last, length - 1) + 1] = 0
    unmarked: list[tuple[int, int]] = []
    for i, (wave, (onset, peak, offset)) in enumerate(zip(waves["wave"], marks, strict=True)):
        if onset >= 0 and offset >= 0:
            mask[onset : offset + 1] = WAVE_CLASSES[wave]
            continue
        before = marks[i - 1][marks[i - 1] >= 0].max() + 1 if i > 0 else first
        after = marks[i + 1][marks[i + 1] >= 0].min() - 1 if i + 1 < len(marks) else last
        unmarked.append((int(before), int(max(after, peak))))
    for start, stop in unmarked:
        mask[start : stop + 1] = UNSCORED
    return mask


def delineation_masks(
    annotations: pd.DataFrame, record_ids: np.ndarray, leads: tuple[str, ...], length: int
) -> np.ndarray:
    """Masks [N, leads, length] (float32) of ``record_ids`` from the annotations table."""
    missing = [c for c in COLUMNS if c not in annotations.columns]
    if missing:
        raise DataError(f"the annotations table lacks the column(s) {missing}")
    unknown = sorted(set(annotations["wave"]) - set(WAVE_CLASSES))
    if unknown:
        raise DataError(f"annotations hold unknown wave names {unknown}; expected P, QRS, T")
    masks = np.full((len(record_ids), len(leads), length), UNSCORED, dtype=np.float32)
    row_of = {int(r): i for i, r in enumerate(record_ids)}
    lead_of = {lead: j for j, lead in enumerate(leads)}
    for (record, lead), waves in annotations.groupby(["record_id", "lead"], sort=False):
        if int(record) in row_of and lead in lead_of:
            masks[row_of[int(record)], lead_of[lead]] = lead_mask(waves, length)
    return masks


class LudbDelineation(Task):
    """Per-sample background / P / QRS / T of all 12 leads of every LUDB record."""

    name = "ludb-delineation"
    group = "ludb"
    dataset = "ludb"
    version = "1"
    kind = "segmentation"
    main_metric = "mean_boundary_f1@150"
    fractions = (0.1, 0.25, 0.5, 1.0)

    def labels(self, data: SignalSet) -> Labels:
        """The 12 leads' masks; records without any annotation are not kept."""
        table = data.tables.get("annotations")
        if table is None:
            raise DataError(f"{self.name} needs the annotations table of the ludb source")
        if not isinstance(data.signals, np.ndarray):
            raise DataError(f"{self.name} needs records of one length ({data.name} varies)")
        record_ids = data.meta["record_id"].to_numpy(np.int64)
        masks = delineation_masks(table, record_ids, data.lead_names, data.signals.shape[-1])
        keep = (masks != UNSCORED).any(axis=(1, 2))
        return Labels(values=masks, names=SEGMENTATION_CLASSES, keep=keep)


register_task(LudbDelineation())
