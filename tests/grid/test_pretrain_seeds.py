"""Pretraining seeds in the grid (every fraction seed on every one) and the validation budget."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from bench.errors import ConfigError
from bench.evaluation.fractions import task_validation_rows
from bench.grid.plan import RunConfig, load_run_config
from bench.grid.profiles import load_profile
from bench.grid.results import load_results
from bench.grid.runner import plan_grid, run_grid, workspace_for
from bench.paths import results_dir
from bench.reporting.leaderboard import LeaderboardOptions, leaderboard_frame
from tests.doubles.grid import FAST


def config(**fields: Any) -> RunConfig:
    values: dict[str, Any] = {
        "methods": ["toy_masked", "random_init"],
        "tasks": ["synthetic-small"],
        "fractions": [0.5],
        "seeds": 2,
        "protocols": ["linear"],
        "profile_overrides": FAST,
    }
    values.update(fields)
    return load_run_config(None, values)


def keys(cfg: RunConfig) -> dict[tuple[str, int | None, int], str]:
    cells = plan_grid(cfg, workspace_for(cfg, progress=False))
    return {(c.unit.method, c.unit.seed, c.seed): c.eval_key for c in cells}


def test_profiles_choose_the_default_count() -> None:
    assert load_profile("smoke").pretrain_seeds == 1
    assert load_profile("paper").pretrain_seeds == 3
    assert load_profile("paper").evaluation.val_fraction == "same"
    assert load_profile("smoke").evaluation.val_fraction == "full"
    assert config().pretrain_seed_list(load_profile("paper")) == (0, 1, 2)
    assert config(pretrain_seeds=[4, 7]).pretrain_seed_list(load_profile("smoke")) == (4, 7)
    with pytest.raises(ConfigError, match="pretrain_seeds"):
        config(pretrain_seeds=0)


def test_every_fraction_seed_runs_on_every_pretraining_seed(
    toys: Any, small_synthetic: str
) -> None:
    cfg = config(pretrain_seeds=2)
    workspace = workspace_for(cfg, progress=False)
    cells = plan_grid(cfg, workspace)
    runs = {(c.unit.method, c.unit.seed, c.seed) for c in cells}
    assert runs == {(m, p, s) for m in cfg.methods for p in (0, 1) for s in (0, 1)}
    assert len({c.eval_key for c in cells}) == len(cells) == 8
    toy = {c.unit.seed: c.unit for c in cells if c.unit.method == "toy_masked"}
    assert toy[0].key != toy[1].key and toy[1].setup.train.seed == 1

    summary = run_grid(cells, workspace)
    assert (summary.ran, summary.failed) == (8, [])
    results = load_results(results_dir())
    assert {(r.method, r.pretrain_seed, r.seed) for r in results} == runs
    # a baseline's initialisation follows its pretraining seed, not the fraction seed
    ids = workspace.task_data(cells[0].task).record_ids[:5]
    embeddings = {
        (c.unit.seed, c.seed): workspace.embeddings(c.unit, c.seed).rows(ids)
        for c in cells
        if c.unit.method == "random_init"
    }
    np.testing.assert_array_equal(embeddings[(0, 0)], embeddings[(0, 1)])
    assert not np.allclose(embeddings[(0, 0)], embeddings[(1, 0)])
    frame = leaderboard_frame(results_dir(), LeaderboardOptions(n_boot=50))
    assert set(zip(frame["n_pretrain_seeds"], frame["n_seeds"], strict=True)) == {(2, 2)}


def test_keys_change_only_where_the_computation_does(toys: Any, small_synthetic: str) -> None:
    one = keys(config())  # the smoke default: one pretraining seed, the profile's train.seed
    assert one == keys(config(pretrain_seeds=[0]))
    two = keys(config(pretrain_seeds=2))
    assert {k: two[k] for k in one} == one  # pretraining seed 0 keeps its cells' keys
    legacy = keys(config(pretrain_seeds=[0]))
    # random_init at fraction seed 1 used to be initialised with seed 1; now with 0, so its
    # key differs from a cell initialised with seed 1 (pretraining seed 1, fraction seed 1)
    assert legacy[("random_init", 0, 1)] != two[("random_init", 1, 1)]
    same = keys(config(profile_overrides={**FAST, "evaluation": {
        **FAST["evaluation"], "val_fraction": "same"}}))  # fmt: skip
    assert set(same.values()).isdisjoint(one.values())  # val_fraction is in the key


def test_same_validation_budget_draws_the_training_rule_on_the_validation_fold(
    toys: Any, small_synthetic: str
) -> None:
    cfg = config()
    workspace = workspace_for(cfg, progress=False)
    data = workspace.task_data(plan_grid(cfg, workspace)[0].task)
    val = data.split_indices("val")
    assert np.array_equal(task_validation_rows(data, 0.1, 0, "full"), val)
    small = task_validation_rows(data, 0.1, 0, "same")
    half = task_validation_rows(data, 0.5, 0, "same")
    assert set(small) <= set(half) <= set(val)  # nested, inside the validation fold
    assert len(small) < len(half) < len(val)
    assert len(half) >= np.ceil(0.5 * len(val))
    assert (data.labels[small].sum(axis=0) > 0).all()  # a positive of every class
    inside = set(data.patient_ids[half])
    outside = set(data.patient_ids[np.setdiff1d(val, half)])
    assert inside.isdisjoint(outside)  # never splits a patient
    assert not np.array_equal(small, task_validation_rows(data, 0.1, 1, "same"))
    with pytest.raises(ConfigError, match="val_fraction"):
        task_validation_rows(data, 0.1, 0, "half")


def test_a_same_budget_cell_selects_on_its_fraction(toys: Any, small_synthetic: str) -> None:
    evaluation = {**FAST["evaluation"], "val_fraction": "same"}
    cfg = config(
        methods=["random_init"], seeds=1, profile_overrides={**FAST, "evaluation": evaluation}
    )
    workspace = workspace_for(cfg, progress=False)
    cells = plan_grid(cfg, workspace)
    assert run_grid(cells, workspace).failed == []
    data = workspace.task_data(cells[0].task)
    (result,) = load_results(results_dir())
    assert result.n_val == len(task_validation_rows(data, 0.5, 0, "same"))
    assert result.n_val < len(data.split_indices("val"))
