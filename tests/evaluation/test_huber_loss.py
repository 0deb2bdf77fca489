"""``evaluation.finetune.regression_loss``: Huber instead of MSE for regression fine-tuning,
keyed only where it changes what a cell computes (a regression task with Huber chosen)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from bench.config import from_dict
from bench.errors import ConfigError
from bench.evaluation.config import FinetuneConfig
from bench.evaluation.objectives import Objective
from bench.grid import cells
from bench.grid.cells import run_cell
from bench.grid.plan import load_run_config
from bench.grid.runner import plan_grid, workspace_for
from bench.task import TASKS
from tasks.synthetic_kinds import SyntheticRegression


class SmallRegression(SyntheticRegression):
    name = group = "synthetic-small-hr"
    dataset = "synthetic-small"


@pytest.fixture
def regression_task(monkeypatch: pytest.MonkeyPatch, small_synthetic: str) -> str:
    TASKS.names()
    monkeypatch.setitem(TASKS._items, SmallRegression.name, SmallRegression())
    return SmallRegression.name


def test_huber_and_mse_losses_on_standardised_targets() -> None:
    train = np.array([[10.0], [30.0]])  # mean 20, SD 10
    mse = Objective.for_task("regression", "mae", train)
    huber = Objective.for_task("regression", "mae", train, huber_delta=1.0)
    logits, targets = torch.tensor([[0.0], [0.0]]), torch.tensor([[50.0], [20.0]])  # z = 3, 0
    assert mse.loss(logits, targets).item() == pytest.approx((9.0 + 0.0) / 2)
    assert huber.loss(logits, targets).item() == pytest.approx((2.5 + 0.0) / 2)  # 1 * (3 - 0.5)


def test_the_loss_field_defaults_to_mse_and_is_checked() -> None:
    assert FinetuneConfig().regression_loss == "mse"
    assert from_dict(FinetuneConfig, {"regression_loss": "huber"}).huber_delta == 1.0
    with pytest.raises(ConfigError, match="regression_loss"):
        from_dict(FinetuneConfig, {"regression_loss": "l1"})
    with pytest.raises(ConfigError, match="huber_delta"):
        FinetuneConfig(huber_delta=0.0)


def _cells(task: str, finetune: dict[str, Any]) -> tuple[list[Any], Any]:
    config = load_run_config(
        None,
        {
            "methods": ["supervised"], "tasks": [task], "fractions": [1.0], "seeds": 1,
            "protocols": ["finetune"],
            "profile_overrides": {"evaluation": {"n_boot": 20, "finetune": finetune}},
        },
    )  # fmt: skip
    workspace = workspace_for(config, False)
    return plan_grid(config, workspace), workspace


def test_huber_enters_the_key_of_regression_cells_only(
    regression_task: str, isolated_results: Path
) -> None:
    def keys(task: str, finetune: dict[str, Any]) -> set[str]:
        return {cell.eval_key for cell in _cells(task, finetune)[0]}

    huber = {"regression_loss": "huber", "huber_delta": 1.5}
    assert len(keys(regression_task, {})) == 1
    assert keys("synthetic-small", huber) == keys("synthetic-small", {})  # BCE either way
    assert keys(regression_task, {"huber_delta": 1.5}) == keys(regression_task, {})  # mse
    assert keys(regression_task, huber).isdisjoint(keys(regression_task, {}))


@pytest.mark.slow
def test_a_regression_cell_trains_with_the_chosen_huber_delta(
    regression_task: str, isolated_results: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[float | None] = []
    real = cells.finetune

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs["objective"].huber_delta)
        return real(*args, **kwargs)

    monkeypatch.setattr(cells, "finetune", spy)
    fast = {"epochs": 1, "min_steps": 2, "evaluations": 1, "batch_size": 16}
    huber = {**fast, "regression_loss": "huber", "huber_delta": 0.5}
    for finetune in (fast, huber):
        (cell,), workspace = _cells(regression_task, finetune)
        result, _ = run_cell(cell, workspace)
        assert result.metrics["main_metric"] == "mae"
    assert seen == [None, 0.5]
