"""Noise robustness end to end: a tiny grid with ``evaluation.noise.levels`` scores every cell
at each level (the same noisy records for every method), writes the robustness table and
figure, and leaves the keys of grids without noise as they were."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bench.cli import main
from bench.grid.cell_noise import noisy_test
from bench.grid.plan import load_run_config
from bench.grid.results import load_results
from bench.grid.runner import plan_grid, workspace_for
from tests.doubles.grid import FAST_SETS

NOISE = "profile_overrides.evaluation.noise.levels=[1,6]"


def grid_args(*extra: str) -> list[str]:
    args = ["run", "--methods", "toy_masked", "random_init", "--tasks", "synthetic-small"]
    args += ["--fractions", "1.0", "--seeds", "2", "--protocols", "linear", "finetune"]
    args += ["--no-progress", "--jobs", "1", "--no-tracking"]
    for item in FAST_SETS:
        args += ["--set", item]
    return args + list(extra)


@pytest.mark.slow
def test_noise_levels_degrade_scores_with_the_same_noise_for_every_method(
    toys: Any, small_synthetic: str, isolated_results: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(grid_args("--set", NOISE)) == 0
    results = load_results(isolated_results, status="ok")
    assert len(results) == 6  # toy linear + finetune, random_init linear, x 2 seeds
    for result in results:
        assert result.metrics["noise_metric"] == "macro_auroc"
        assert {"noise_level_1", "noise_level_6"} <= set(result.metrics)
        low, high = result.ci["noise_level_6"]
        assert low <= result.metrics["noise_level_6"] <= high
    clean = np.mean([r.metrics["macro_auroc"] for r in results])
    level_6 = np.mean([r.metrics["noise_level_6"] for r in results])
    assert level_6 < clean - 0.05  # (about 30 test records: level 1 vs 6 is not resolved here)
    assert all(r.metrics["noise_level_1"] != r.metrics["macro_auroc"] for r in results)
    digests = {json.dumps(r.config["noise_digests"], sort_keys=True) for r in results}
    assert len(digests) == 1  # every method and protocol scored the very same noisy records
    assert {r.method for r in results} == {"toy_masked", "random_init"}
    table = pd.read_csv(isolated_results / "leaderboards" / "robustness.csv")
    assert {"clean", "level 1", "level 6"} <= set(table.columns)
    assert set(table["method"]) == {"toy_masked", "random_init"}
    markdown = (isolated_results / "leaderboards" / "robustness.md").read_text()
    assert "| Method | clean | level 1 | level 6 |" in markdown
    figures = sorted(p.name for p in (isolated_results / "figures").glob("*robustness*"))
    assert "synthetic-small_linear_100pct_smoke_robustness.png" in figures
    assert "synthetic-small_linear_100pct_smoke_robustness.pdf" in figures

    plain = isolated_results.parent / "plain"
    monkeypatch.setenv("BENCH_RESULTS", str(plain))
    assert main(grid_args()) == 0  # the same grid without noise: the clean scores are the same
    clean_only = {(r.method, r.protocol, r.seed): r for r in load_results(plain, status="ok")}
    for result in results:
        other = clean_only[(result.method, result.protocol, result.seed)]
        assert other.metrics["macro_auroc"] == result.metrics["macro_auroc"]
        assert "noise_metric" not in other.metrics and other.eval_key != result.eval_key
    assert not (plain / "leaderboards" / "robustness.md").exists()


def test_noise_options_enter_the_key_only_when_levels_are_scored(
    toys: Any, small_synthetic: str, isolated_results: Path
) -> None:
    def keys(*sets: str) -> set[str]:
        overrides: dict[str, Any] = {"evaluation": {"n_boot": 20}}
        for item in sets:
            overrides["evaluation"].update(item)
        config = load_run_config(
            None,
            {
                "methods": ["toy_masked"], "tasks": ["synthetic-small"], "fractions": [1.0],
                "seeds": 1, "protocols": ["linear"], "profile_overrides": overrides,
            },
        )  # fmt: skip
        return {cell.eval_key for cell in plan_grid(config, workspace_for(config, False))}

    plain = keys()
    assert keys({"noise": {"levels": []}}) == plain
    assert keys({"noise": {"seed": 3}}) == plain  # no levels: nothing is computed differently
    noisy = keys({"noise": {"levels": [6]}})
    assert noisy.isdisjoint(plain) and keys({"noise": {"levels": [6], "seed": 1}}) != noisy


def test_every_method_protocol_and_seed_gets_the_same_noisy_records(
    toys: Any, small_synthetic: str, isolated_results: Path
) -> None:
    """The fast guard of the slow grid test's rule: each cell's noisy test records, made
    afresh for each cell (as on a grid worker: no noise shared through the workspace's memo)."""
    overrides = {"evaluation": {"n_boot": 20, "noise": {"levels": [6]}}}
    config = load_run_config(
        None,
        {
            "methods": ["toy_masked", "random_init"], "tasks": ["synthetic-small"],
            "fractions": [1.0], "seeds": 2, "protocols": ["linear", "finetune"],
            "profile_overrides": overrides,
        },
    )  # fmt: skip
    workspace = workspace_for(config, False)
    digests = {}
    for cell in plan_grid(config, workspace):
        workspace.noise_memo.clear()
        data = workspace.task_data(cell.task, cell.unit.setup.preprocessing)
        noisy = noisy_test(cell, workspace, data, data.split_indices("test"))
        digests[(cell.unit.method, cell.protocol, cell.seed)] = dict(noisy.digests)
    assert {method for method, _, _ in digests} == {"toy_masked", "random_init"}
    assert {(protocol, seed) for _, protocol, seed in digests} == {
        (protocol, seed) for protocol in ("linear", "finetune") for seed in (0, 1)
    }
    assert len({json.dumps(d, sort_keys=True) for d in digests.values()}) == 1, digests
