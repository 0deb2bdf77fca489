"""A segmentation task in the grid: planning (the task's own fractions, the U-Net only on dense
tasks, keys), cells of both protocols end to end, result files, leaderboard and figure."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bench.cli import main
from bench.data.loading import DATASETS
from bench.evaluation.fractions import DEFAULT_FRACTIONS
from bench.grid.cells import validation_score
from bench.grid.plan import RunConfig, resolved_profile
from bench.grid.results import load_predictions, load_results
from bench.grid.runner import plan_grid, run_grid
from bench.grid.workspace import Workspace
from bench.method import METHODS
from bench.reporting import delineation_examples
from bench.task import TASKS
from tests.doubles.grid import FAST_SETS
from tests.doubles.segmentation import SegToySource, SegToyTask
from tests.doubles.toy_checkpoint import ToyCheckpoint, write_official

SEGMENTATION_SETS = [
    "profile_overrides.evaluation.segmentation.epochs=4",
    "profile_overrides.evaluation.segmentation.evaluations=2",
    "profile_overrides.evaluation.segmentation.weight_decays=[0.0]",
    "profile_overrides.evaluation.finetune.min_steps=6",
    "profile_overrides.evaluation.finetune.evaluations=2",
]


@pytest.fixture
def seg_toy(monkeypatch: pytest.MonkeyPatch, small_synthetic: str, toys: Any) -> str:
    DATASETS.names(), TASKS.names()
    monkeypatch.setitem(DATASETS._items, SegToySource.name, SegToySource())
    monkeypatch.setitem(TASKS._items, SegToyTask.name, SegToyTask())
    return SegToyTask.name


def test_planning_uses_the_tasks_fractions_and_keeps_the_unet_to_dense_tasks(
    seg_toy: str, small_synthetic: str
) -> None:
    config = RunConfig(
        methods=("random_init", "supervised_unet1d"), tasks=(seg_toy, small_synthetic), seeds=1
    )
    workspace = Workspace(resolved_profile(config), progress=False)
    cells = plan_grid(config, workspace)
    by = {(c.unit.method, c.task.name, c.fraction) for c in cells}
    assert {f for m, t, f in by if t == seg_toy} == {0.1, 0.25, 0.5, 1.0}
    assert {f for m, t, f in by if t == small_synthetic} == set(DEFAULT_FRACTIONS)
    assert {m for m, t, _ in by if t == small_synthetic} == {"random_init"}
    assert {m for m, t, _ in by if t == seg_toy} == {"random_init", "supervised_unet1d"}
    explicit = plan_grid(
        RunConfig(methods=("random_init",), tasks=(seg_toy,), seeds=1, fractions=(0.5,)), workspace
    )
    assert [c.fraction for c in explicit] == [0.5]
    changed = RunConfig(
        methods=("random_init",),
        tasks=(seg_toy,),
        seeds=1,
        fractions=(0.5,),
        profile_overrides={"evaluation": {"segmentation": {"epochs": 3}}},
    )
    other = plan_grid(changed, Workspace(resolved_profile(changed), progress=False))
    assert other[0].eval_key != explicit[0].eval_key  # the frozen head's config is keyed


@pytest.mark.slow
def test_segmentation_cells_results_leaderboard_and_figure(
    seg_toy: str, isolated_results: Path
) -> None:
    args = ["run", "--methods", "random_init", "supervised_unet1d", "toy_masked", "--tasks"]
    args += [seg_toy, "--fractions", "0.5", "1.0", "--seeds", "1", "--no-progress"]
    args += ["--jobs", "1", "--no-tracking"]
    for item in FAST_SETS + SEGMENTATION_SETS:
        args += ["--set", item]
    assert main(args) == 0
    results = load_results(isolated_results, status="ok")
    assert {(r.method, r.protocol) for r in results} == {
        ("random_init", "linear"),
        ("supervised_unet1d", "finetune"),
        ("toy_masked", "linear"),
        ("toy_masked", "finetune"),
    }
    assert len(results) == 8
    for result in results:
        assert result.metrics["main_metric"] == "mean_boundary_f1@150"
        assert 0.0 <= result.metrics["mean_boundary_f1@150"] <= 1.0
        assert {"f1_qrs_onset@150", "sens_p_offset@40", "ppv_t_onset@150"} <= set(result.metrics)
        low, high = result.ci["mean_boundary_f1@150"]
        assert low <= result.metrics["mean_boundary_f1@150"] <= high
        assert result.config["segmentation"] == {
            "sampling_rate": 100,
            "n_leads": 12,
            "n_samples": 500,
        }
        predictions = load_predictions(isolated_results, result.eval_key)
        assert predictions.y_true.shape == (result.n_test, 12 * 500)
        assert set(np.unique(predictions.y_score)) <= {0, 1, 2, 3}
    board = pd.read_csv(isolated_results / "leaderboards" / "leaderboard.csv")
    rows = board[board["task"] == seg_toy]
    assert set(rows["main_metric"]) == {"mean_boundary_f1@150"}
    assert set(rows["higher_is_better"]) == {True}
    for _, table in rows.groupby(["protocol", "fraction"]):
        assert table.loc[table["best"], "mean"].max() == table["mean"].max()
    text = (isolated_results / "leaderboards" / "leaderboard.md").read_text()
    assert "mean_boundary_f1@150 (higher is better)" in text
    figures = {p.name for p in (isolated_results / "figures").glob("*.png")}
    assert f"{seg_toy}_linear_smoke.png" in figures
    for protocol in ("linear", "finetune"):  # one example record per protocol, every method
        example = isolated_results / "figures" / f"{seg_toy}_{protocol}_smoke_example"
        assert example.with_suffix(".png").stat().st_size > 0
        assert example.with_suffix(".pdf").stat().st_size > 0


def test_the_example_figure_draws_one_test_record_for_every_method(
    seg_toy: str, isolated_results: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    overrides = {
        "evaluation": {"segmentation": {"epochs": 2, "evaluations": 1, "weight_decays": [0.0]}}
    }
    config = RunConfig(
        methods=("random_init",),
        tasks=(seg_toy,),
        seeds=2,
        fractions=(0.5, 1.0),
        protocols=("linear",),
        profile_overrides=overrides,
    )
    workspace = Workspace(resolved_profile(config), progress=False)
    assert run_grid(plan_grid(config, workspace), workspace).failed == []
    drawn: list[tuple[Any, ...]] = []
    monkeypatch.setattr(
        delineation_examples,
        "write_delineation_figure",
        lambda stem, signal, true, masks, rate, title: (
            drawn.append((stem, signal, true, masks, rate, title))
            or [Path(f"{stem}.png"), Path(f"{stem}.pdf")]
        ),
    )
    written = delineation_examples.write_delineation_examples(
        isolated_results, workspace.record_signal
    )
    assert [p.name for p in written] == [f"{seg_toy}_linear_smoke_example.png"]
    ((_, signal, true, masks, rate, title),) = drawn
    results = load_results(isolated_results, status="ok")
    (chosen,) = [r for r in results if r.fraction == 1.0 and r.seed == 0]
    predictions = load_predictions(isolated_results, chosen.eval_key)
    record = int(predictions.record_ids.min())
    data = workspace.task_data(TASKS.get(seg_toy))
    row = int(np.flatnonzero(data.record_ids == record)[0])
    np.testing.assert_array_equal(true, data.labels[row, 1])  # lead II of the lowest test id
    np.testing.assert_array_equal(signal, np.asarray(data.signals[row])[1])
    expected = predictions.y_score[predictions.record_ids == record].reshape(12, -1)[1]
    np.testing.assert_array_equal(masks["random_init"], expected)
    assert rate == 100 and f"record {record}" in title


def test_validation_score_of_a_segmentation_cell_reads_no_test_record(seg_toy: str) -> None:
    overrides = {
        "evaluation": {"segmentation": {"epochs": 2, "evaluations": 1, "weight_decays": [0.0]}}
    }
    config = RunConfig(
        methods=("random_init",),
        tasks=(seg_toy,),
        seeds=1,
        fractions=(1.0,),
        profile_overrides=overrides,
    )
    workspace = Workspace(resolved_profile(config), progress=False)
    (cell,) = plan_grid(config, workspace)
    data = workspace.task_data(cell.task)
    test = data.split_indices("test")
    data.labels[test] = 7  # any read of a test label would fail the metric's class check
    score = validation_score(cell, workspace)
    assert 0.0 <= score.macro_auroc <= 1.0 and score.n_val == len(data.split_indices("val"))
    assert score.details["best_epoch"] == 2


class HalfRateCheckpoint(ToyCheckpoint):
    """The toy checkpoint with an official input at 50 Hz: its masks are stored at 50 Hz."""

    name = "toy-checkpoint-50hz"
    official_input = dataclasses.replace(ToyCheckpoint.official_input, rate=50, samples=125)


def test_methods_at_other_official_rates_share_one_leaderboard(
    seg_toy: str, isolated_results: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Masks are scored at each unit's rate, so two methods' stored labels differ in shape;
    their cells hold the same test records and land in one table."""
    monkeypatch.setitem(METHODS._items, HalfRateCheckpoint.name, HalfRateCheckpoint)
    weights = write_official(tmp_path / "toy.pt")
    args = ["run", "--methods", "random_init", HalfRateCheckpoint.name, "--tasks", seg_toy]
    args += ["--fractions", "1.0", "--seeds", "1", "--protocols", "linear", "--no-progress"]
    args += ["--jobs", "1", "--no-tracking", "--weights", f"{HalfRateCheckpoint.name}={weights}"]
    for item in FAST_SETS + SEGMENTATION_SETS:
        args += ["--set", item]
    assert main(args) == 0
    rates = {
        r.method: r.config["segmentation"]["sampling_rate"] for r in load_results(isolated_results)
    }
    assert rates == {"random_init": 100, HalfRateCheckpoint.name: 50}
    board = pd.read_csv(isolated_results / "leaderboards" / "leaderboard.csv")
    assert set(board[board["task"] == seg_toy]["method"]) == set(rates)
