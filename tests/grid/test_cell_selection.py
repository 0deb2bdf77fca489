"""A grid cell's wiring of the selection protocol: it trains on folds 1-8 (nested label
fractions), selects on fold 9 and reports on fold 10, so nothing it selects (probe strength, F1
and Challenge thresholds) reads a test label."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from bench.evaluation.challenge import SINUS_RHYTHM, ScoredClasses, challenge_metrics
from bench.grid import cells
from bench.grid.plan import load_run_config
from bench.grid.runner import plan_grid, workspace_for
from bench.task import TASKS
from tests.doubles.grid import FAST, SmallTask


class ChallengeScoredTask(SmallTask):
    """synthetic-small with the Challenge score as its task metric (toy weights: full credit
    on the diagonal, a quarter elsewhere; its first class stands for sinus rhythm)."""

    name = group = "synthetic-small-challenge"

    def extra_metrics(
        self,
        val: tuple[np.ndarray, np.ndarray],
        test: tuple[np.ndarray, np.ndarray],
        label_names: Sequence[str],
        bootstrap: tuple[np.ndarray, float] | None = None,
    ) -> tuple[dict[str, object], dict[str, list[float]]]:
        codes = (SINUS_RHYTHM, *(str(i) for i in range(1, len(label_names))))
        weights = np.full((len(codes), len(codes)), 0.25) + 0.75 * np.eye(len(codes))
        scored = ScoredClasses(codes, tuple(label_names), {c: c for c in codes}, weights)
        return challenge_metrics(val, test, scored, codes, bootstrap)


def test_a_cell_selects_on_fold_9_and_never_reads_a_test_label(
    toys: Any, small_synthetic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(TASKS._items, ChallengeScoredTask.name, ChallengeScoredTask())
    config = load_run_config(
        None,
        {
            "methods": ["random_init"], "tasks": [ChallengeScoredTask.name], "fractions": [0.5],
            "seeds": 1, "protocols": ["linear"], "profile_overrides": FAST,
        },
    )  # fmt: skip
    workspace = workspace_for(config, progress=False)
    (cell,) = plan_grid(config, workspace)
    data = workspace.task_data(cell.task, cell.unit.setup.preprocessing)
    fitted: list[cells.CellRows] = []
    fit_protocol = cells.fit_protocol
    monkeypatch.setattr(
        cells, "fit_protocol", lambda *a, **k: fitted.append(a[3]) or fit_protocol(*a, **k)
    )
    result, _ = cells.run_cell(cell, workspace)
    (rows,) = fitted
    assert set(data.folds[rows.train]) <= set(range(1, 9))
    assert set(data.folds[rows.val]) == {9} and set(data.folds[rows.report]) == {10}
    assert result.n_val == len(rows.val) and result.n_test == len(data.split_indices("test"))

    inverted = data.labels.copy()
    test = data.split_indices("test")
    inverted[test] = 1.0 - inverted[test]
    changed = dataclasses.replace(data, labels=inverted)
    monkeypatch.setattr(workspace, "task_data", lambda *a, **k: changed)
    again, _ = cells.run_cell(cell, workspace)
    assert again.metrics["macro_auroc"] != result.metrics["macro_auroc"]  # the labels did change
    assert again.config["selection"] == result.config["selection"]
    assert again.metrics["f1_thresholds"] == result.metrics["f1_thresholds"]
    assert again.metrics["challenge_score"] != result.metrics["challenge_score"]
    assert again.metrics["challenge_thresholds"] == result.metrics["challenge_thresholds"]


class _Captured(Exception):
    """Stops a cell once its rows are known (nothing is trained)."""


def test_cells_of_growing_label_fractions_train_on_nested_subsets(
    toys: Any, small_synthetic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_run_config(
        None,
        {
            "methods": ["supervised"], "tasks": ["synthetic-small"],
            "fractions": [0.1, 0.5, 1.0], "seeds": 2, "protocols": ["finetune"],
            "profile_overrides": FAST,
        },
    )  # fmt: skip
    workspace = workspace_for(config, progress=False)
    planned = plan_grid(config, workspace)
    data = workspace.task_data(planned[0].task)

    def capture(*args: Any, **kwargs: Any) -> None:
        raise _Captured(args[3])

    monkeypatch.setattr(cells, "fit_protocol", capture)
    train: dict[tuple[int, float], set[int]] = {}
    for cell in planned:
        with pytest.raises(_Captured) as captured:
            cells.run_cell(cell, workspace)
        rows = captured.value.args[0]
        assert set(data.folds[rows.train]) <= set(range(1, 9))
        train[(cell.seed, cell.fraction)] = set(rows.train.tolist())
    assert len(train) == 6
    for seed in (0, 1):
        assert train[(seed, 0.1)] < train[(seed, 0.5)] < train[(seed, 1.0)]
        assert train[(seed, 1.0)] == set(data.split_indices("train").tolist())
    assert train[(0, 0.1)] != train[(1, 0.1)]
