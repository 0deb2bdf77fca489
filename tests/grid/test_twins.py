"""A matched baseline that is the shared baseline's network runs once, under the shared name."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from bench.grid.plan import Cell, load_run_config
from bench.grid.results import load_results
from bench.grid.runner import plan_grid, run_grid, workspace_for
from bench.reporting.leaderboard import leaderboard_frame
from tests.doubles.grid import FAST


def planned(methods: list[str], protocols: tuple[str, ...] = ("linear", "finetune")) -> Any:
    cfg = load_run_config(
        None,
        {
            "methods": methods,
            "tasks": ["synthetic-small"],
            "fractions": [1.0],
            "seeds": 1,
            "protocols": list(protocols),
            "profile_overrides": FAST,
        },
    )
    workspace = workspace_for(cfg, progress=False)
    return plan_grid(cfg, workspace), workspace


def units(cells: list[Cell]) -> dict[str, Any]:
    return {cell.unit.method: cell.unit for cell in cells}


def test_twins_of_the_shared_baseline_are_left_to_it_and_named_on_the_ssl_unit(
    small_synthetic: str,
) -> None:
    methods = ["hybrid", "cpc", "random_init", "random_init[hybrid]", "random_init[cpc]"]
    by_method = units(planned(methods)[0])
    assert set(by_method) == {"hybrid", "cpc", "random_init", "random_init[cpc]"}
    assert by_method["hybrid"].matched_baselines == (("random_init", "random_init"),)
    assert by_method["cpc"].matched_baselines == ()  # its own network: random_init[cpc] runs


def test_a_twin_runs_when_its_shared_baseline_is_not_in_the_grid(small_synthetic: str) -> None:
    by_method = units(planned(["hybrid", "random_init[hybrid]"])[0])
    assert set(by_method) == {"hybrid", "random_init[hybrid]"}
    assert by_method["hybrid"].matched_baselines == ()


@pytest.mark.numeric
def test_a_twin_computes_exactly_what_its_shared_baseline_computes(small_synthetic: str) -> None:
    for methods in (["random_init[hybrid]"], ["random_init"]):
        cells, workspace = planned(methods, ("linear",))
        assert run_grid(cells, workspace).failed == []
    results = {r.method: r for r in load_results(Path(os.environ["BENCH_RESULTS"]), status="ok")}
    twin, shared = results["random_init[hybrid]"], results["random_init"]
    assert twin.eval_key != shared.eval_key
    assert twin.metrics == shared.metrics


def test_the_ssl_row_gains_over_the_shared_row_standing_for_its_twin(
    small_synthetic: str,
) -> None:
    cells, workspace = planned(["hybrid", "random_init", "random_init[hybrid]"], ("linear",))
    assert run_grid(cells, workspace).failed == []
    frame = leaderboard_frame(Path(os.environ["BENCH_RESULTS"])).set_index("method")
    assert "random_init[hybrid]" not in frame.index
    expected = frame.loc["hybrid", "mean"] - frame.loc["random_init", "mean"]
    assert frame.loc["hybrid", "gain_vs_own_random_init"] == pytest.approx(expected)
