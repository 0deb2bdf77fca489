"""End to end: a grid over a regression, a multiclass and a CinC-style fixture task (linear
probe and fine-tuning), with leaderboards whose bold and markers follow each metric's direction."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from bench.cli import main
from bench.grid.results import load_results
from bench.task import TASKS
from tasks.synthetic_kinds import SyntheticRegression, SyntheticRhythm
from tests.doubles.cinc_tasks import write_labelled_tree
from tests.doubles.grid import FAST_SETS, SmallSource


class SmallRegression(SyntheticRegression):
    name = group = "synthetic-small-hr"
    dataset = "synthetic-small"


class SmallRhythm(SyntheticRhythm):
    name = group = "synthetic-small-rhythm"
    dataset = "synthetic-small"


@pytest.fixture
def kind_tasks(monkeypatch: pytest.MonkeyPatch, toys: Any) -> None:
    from bench.data.loading import DATASETS

    DATASETS.names(), TASKS.names()
    monkeypatch.setitem(DATASETS._items, SmallSource.name, SmallSource())
    for task in (SmallRegression(), SmallRhythm()):
        monkeypatch.setitem(TASKS._items, task.name, task)


@pytest.mark.slow
def test_grid_over_regression_multiclass_and_cinc_tasks(
    kind_tasks: None, tmp_path: Path, isolated_results: Path
) -> None:
    tree = tmp_path / "cinc"
    write_labelled_tree(tree, per_prefix=40, seconds=3.0)
    args = ["run", "--methods", "toy_masked", "random_init", "--tasks", "synthetic-small-hr"]
    args += ["synthetic-small-rhythm", "cinc2021", "--data-root", f"cinc2021={tree}"]
    args += ["--fractions", "1.0", "--seeds", "2", "--protocols", "linear", "finetune"]
    args += ["--no-progress", "--jobs", "1", "--no-tracking"]
    for item in FAST_SETS:
        args += ["--set", item]
    assert main(args) == 0
    results = load_results(isolated_results, status="ok")
    by_task = {r.task: r for r in results}
    assert set(by_task) == {"synthetic-small-hr", "synthetic-small-rhythm", "cinc2021"}
    hr, rhythm, cinc = (
        by_task[t] for t in ("synthetic-small-hr", "synthetic-small-rhythm", "cinc2021")
    )
    assert hr.metrics["main_metric"] == "mae" and hr.metrics["mae"] > 0
    assert set(hr.ci) >= {"mae", "rmse", "r2", "pearson_r"}
    assert rhythm.metrics["main_metric"] == "accuracy" and 0 <= rhythm.metrics["accuracy"] <= 1
    assert -1.0 <= cinc.metrics["challenge_score"] <= 1.0 and "challenge_score" in cinc.ci
    board = pd.read_csv(isolated_results / "leaderboards" / "leaderboard.csv")
    for task, higher in (("synthetic-small-hr", False), ("synthetic-small-rhythm", True)):
        rows = board[(board["task"] == task) & (board["protocol"] == "linear")]
        assert set(rows["higher_is_better"]) == {higher}
        best = rows.loc[rows["best"], "mean"].iloc[0]
        assert best == (rows["mean"].max() if higher else rows["mean"].min())
    text = (isolated_results / "leaderboards" / "leaderboard.md").read_text()
    assert "mae (lower is better)" in text and "accuracy (higher is better)" in text
    figures = sorted(p.name for p in (isolated_results / "figures").glob("*.png"))
    assert "synthetic-small-hr_linear_smoke.png" in figures
