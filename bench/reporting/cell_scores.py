"""Which number a table shows for a cell: its main metric, or the macro AUPRC beside it, and
optionally the macro over the classes with at least N test positives.

``ScoreChoice()`` is the cell's main metric as stored (macro AUROC for a multi-label task).
``metric="macro_auprc"`` is the macro average precision of the classification kinds (multilabel
and multiclass; other cells have none and are left out of such a table). ``min_positives=N``
restricts a macro AUROC or AUPRC to the classes with at least N positive test records (macro
averages otherwise weigh a class with 3 positives as much as one with 300); other metrics are
unaffected. Values and bootstrap resamples are recomputed from the stored test predictions
wherever the stored metric does not already hold the number asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from bench.errors import DataError
from bench.evaluation.bootstrap import (
    class_auroc_auprc,
    macro_auroc_samples,
    nan_row_mean,
    resample_counts,
)
from bench.evaluation.kind_metrics import resampled_main_metric
from bench.evaluation.metrics import per_class_auprc, per_class_auroc, valid_classes
from bench.evaluation.segmentation_resample import resampled_boundary_f1
from bench.grid.results import CellResult

TableMetric = Literal["main", "macro_auprc"]
CLASS_METRICS = ("macro_auroc", "macro_auprc")  # the macros that ``min_positives`` restricts


@dataclass(frozen=True)
class ScoreChoice:
    """The number shown for each cell (see the module docstring)."""

    metric: TableMetric = "main"
    min_positives: int = 0

    def applies(self, cell: CellResult) -> bool:
        """Whether ``cell`` has this number (macro AUPRC: classification cells only)."""
        return self.metric == "main" or has_classes(cell)

    def name(self, cell: CellResult) -> str:
        """The metric's name for ``cell`` (its main metric, or ``macro_auprc``)."""
        if self.metric == "macro_auprc":
            return "macro_auprc"
        return str(cell.metrics.get("main_metric", "macro_auroc"))

    def stored(self, cell: CellResult) -> bool:
        """Whether the cell's result holds the number already (no restriction to apply)."""
        name = self.name(cell)
        restricted = self.min_positives > 0 and name in CLASS_METRICS and has_classes(cell)
        return not restricted and name in cell.metrics

    def value(self, cell: CellResult, y_true: np.ndarray, y_score: np.ndarray) -> float:
        """The number of ``cell`` from its test predictions (where ``stored`` is False)."""
        keep = self.columns(cell, y_true)
        scores = per_class_auprc if self.name(cell) == "macro_auprc" else per_class_auroc
        return float(np.nanmean(scores(y_true[:, keep], y_score[:, keep])))

    def resampled(
        self, cell: CellResult, y_true: np.ndarray, y_score: np.ndarray, indices: np.ndarray
    ) -> np.ndarray:
        """The number on every bootstrap resample ``indices`` [B, N] of the test records (the
        main metric as the leaderboards always resampled it, unless AUPRC or a restriction
        is asked for)."""
        name = self.name(cell)
        chosen = self.metric != "main" or self.min_positives > 0
        if chosen and name in CLASS_METRICS and has_classes(cell):
            keep = self.columns(cell, y_true)
            counts = resample_counts(indices, len(y_true))
            class_scores = class_auroc_auprc(y_true[:, keep], y_score[:, keep], counts)
            return nan_row_mean(class_scores[name == "macro_auprc"])
        dense = cell.config.get("segmentation")  # masks: the delineation main metric
        if dense:
            return resampled_boundary_f1(
                name, y_true, y_score, indices, dense["n_leads"], dense["sampling_rate"]
            )
        if "main_metric" in cell.metrics:
            return resampled_main_metric(name, y_true, y_score, indices)
        return macro_auroc_samples(y_true, y_score, indices)

    def columns(self, cell: CellResult, y_true: np.ndarray) -> np.ndarray:
        """The classes a macro averages over: those with positives and negatives in the test
        fold, and at least ``min_positives`` positives."""
        positives = (np.asarray(y_true) > 0.5).sum(axis=0)
        keep = valid_classes(y_true) & (positives >= self.min_positives)
        if not keep.any():
            raise DataError(
                f"no class of task {cell.task!r} has {self.min_positives} or more positive test "
                "records: lower --min-positives"
            )
        return keep


def has_classes(cell: CellResult) -> bool:
    """Whether ``cell`` is of a classification kind (multilabel or multiclass)."""
    return "per_class_auroc" in cell.metrics
