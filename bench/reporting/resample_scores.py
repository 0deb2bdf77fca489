"""Per-cell scores on the shared bootstrap resamples of a task's test records, for the
leaderboard's CIs and paired tests: every cell of a task is scored on the same resamples, and
cells holding different test records are refused. Also each cell's test sample (records and
classes scored), from its result or, for files written before results stored it, from its
predictions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from bench.errors import DataError
from bench.evaluation.bootstrap import Resamples, valid_resamples
from bench.evaluation.kind_metrics import REGRESSION_METRICS
from bench.evaluation.sample import ScoredSample, describe_test_sample
from bench.evaluation.segmentation_resample import record_resamples
from bench.grid.results import CellResult, Predictions, load_predictions
from bench.reporting.cell_scores import ScoreChoice

Run = tuple[int, int]  # (pretraining seed, fraction seed)


class ResampleScores:
    """Each cell's number (``choice``: its main metric by default) on every fixed resample of
    its task's test records, computed once per cell and reused (``n_boot`` resamples drawn
    with ``boot_seed``), and the number itself (``value``)."""

    def __init__(
        self, results_dir: Path, n_boot: int, boot_seed: int, choice: ScoreChoice | None = None
    ):
        self._results_dir = results_dir
        self._n_boot = n_boot
        self._boot_seed = boot_seed
        self.choice = choice or ScoreChoice()
        self._samples: dict[str, np.ndarray] = {}
        self._values: dict[str, float] = {}
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

    def sample(self, cell: CellResult) -> ScoredSample:
        """The test records and classes ``cell`` scored (and those it left out)."""
        if cell.test_sample:
            return ScoredSample.from_dict(cell.test_sample)
        y_true = load_predictions(self._results_dir, cell.eval_key).y_true
        if cell.config.get("segmentation"):
            return describe_test_sample(y_true, cell.label_names, "masks")
        regression = cell.metrics.get("main_metric") in REGRESSION_METRICS
        return describe_test_sample(
            y_true, cell.label_names, "targets" if regression else "classes"
        )

    def value(self, cell: CellResult) -> float:
        """The cell's number: as stored, or recomputed from its test predictions."""
        if self.choice.stored(cell):
            return float(cell.metrics[self.choice.name(cell)])
        if cell.eval_key not in self._values:
            stored = self._predictions(cell)
            self._values[cell.eval_key] = self.choice.value(cell, stored.y_true, stored.y_score)
        return self._values[cell.eval_key]

    def _cell(self, cell: CellResult) -> np.ndarray:
        if cell.eval_key not in self._samples:
            predictions = self._predictions(cell)
            where = (cell.profile, cell.task)
            dense = cell.config.get("segmentation")  # masks: plain resamples of records
            if where not in self._resamples:  # one test set per task: the same resamples
                draw = record_resamples if dense else valid_resamples
                self._resamples[where] = draw(predictions.y_true, self._n_boot, self._boot_seed)
            indices = self._resamples[where].indices
            self._samples[cell.eval_key] = self.choice.resampled(
                cell, predictions.y_true, predictions.y_score, indices
            )
        return self._samples[cell.eval_key]

    def _predictions(self, cell: CellResult) -> Predictions:
        """The cell's test predictions sorted by record id (checked against its task's)."""
        predictions = load_predictions(self._results_dir, cell.eval_key).sorted_by_record()
        # masks are stored at each unit's own rate (a published model's official one): cells
        # of one task then share their records, not their mask arrays
        labels = None if cell.config.get("segmentation") else predictions.y_true
        self._check_same_test_set(cell, predictions.record_ids, labels)
        return predictions

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
