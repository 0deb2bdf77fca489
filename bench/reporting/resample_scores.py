"""Per-cell scores on the shared bootstrap resamples of a task's test records, for the
leaderboard's CIs and paired tests: every cell of a task is scored on the same resamples, and
cells holding different test records are refused."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from bench.errors import DataError
from bench.evaluation.bootstrap import Resamples, macro_auroc_samples, valid_resamples
from bench.evaluation.kind_metrics import resampled_main_metric
from bench.evaluation.segmentation_resample import record_resamples, resampled_boundary_f1
from bench.grid.results import CellResult, load_predictions

Run = tuple[int, int]  # (pretraining seed, fraction seed)


class ResampleScores:
    """Each cell's main metric on every fixed resample of its task's test records, computed
    once per cell and reused (``n_boot`` resamples drawn with ``boot_seed``)."""

    def __init__(self, results_dir: Path, n_boot: int, boot_seed: int):
        self._results_dir = results_dir
        self._n_boot = n_boot
        self._boot_seed = boot_seed
        self._samples: dict[str, np.ndarray] = {}
        self._reference: dict[tuple[str, str], tuple[str, np.ndarray, np.ndarray]] = {}
        self._resamples: dict[tuple[str, str], Resamples] = {}

    def grid(
        self, runs: Mapping[Run, CellResult], pretrain_seeds: Sequence[int], seeds: Sequence[int]
    ) -> tuple[np.ndarray, Resamples]:
        """Resample scores [P, S, n_boot] of ``runs`` (NaN where a run is missing) and the
        resamples of their test set (how many were redrawn for missing a class)."""
        first = next(iter(runs.values()))
        scores = np.full((len(pretrain_seeds), len(seeds), self._n_boot), np.nan)
        for i, pretrain_seed in enumerate(pretrain_seeds):
            for j, seed in enumerate(seeds):
                if (pretrain_seed, seed) in runs:
                    scores[i, j] = self._cell(runs[(pretrain_seed, seed)])
        return scores, self._resamples[(first.profile, first.task)]

    def _cell(self, cell: CellResult) -> np.ndarray:
        if cell.eval_key not in self._samples:
            predictions = load_predictions(self._results_dir, cell.eval_key).sorted_by_record()
            dense = cell.config.get("segmentation")  # masks: plain resamples of records
            # masks are stored at each unit's own rate (a published model's official one):
            # cells of one task then share their records, not their mask arrays
            labels = None if dense else predictions.y_true
            self._check_same_test_set(cell, predictions.record_ids, labels)
            where = (cell.profile, cell.task)
            if where not in self._resamples:  # one test set per task: the same resamples
                draw = record_resamples if dense else valid_resamples
                self._resamples[where] = draw(predictions.y_true, self._n_boot, self._boot_seed)
            args = (predictions.y_true, predictions.y_score, self._resamples[where].indices)
            metric = cell.metrics.get("main_metric")
            self._samples[cell.eval_key] = (
                resampled_boundary_f1(metric, *args, dense["n_leads"], dense["sampling_rate"])
                if dense
                else resampled_main_metric(metric, *args)
                if metric is not None
                else macro_auroc_samples(*args)
            )
        return self._samples[cell.eval_key]

    def _check_same_test_set(
        self, cell: CellResult, record_ids: np.ndarray, y_true: np.ndarray | None
    ) -> None:
        """Paired comparisons need every cell of a task to hold the same test records (and,
        where given, the same labels)."""
        first = self._reference.setdefault(
            (cell.profile, cell.task), (cell.eval_key, record_ids, y_true)
        )
        same_labels = y_true is None or first[2] is None or np.array_equal(first[2], y_true)
        if not (np.array_equal(first[1], record_ids) and same_labels):
            raise DataError(
                f"cells {first[0]} and {cell.eval_key} of task {cell.task!r} hold different test "
                "records or labels; their results cannot be compared (mixed data versions?)"
            )
