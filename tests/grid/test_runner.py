"""The grid runner: planning and keys, skipping finished cells, failures, interruption."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.grid import runner
from bench.grid.plan import RunConfig, load_run_config
from bench.grid.results import load_results
from bench.grid.runner import cell_status, plan_grid, run_grid, workspace_for
from tests.doubles.grid import FAST


def config(**fields: Any) -> RunConfig:
    values: dict[str, Any] = {
        "methods": ["toy_masked"],
        "tasks": ["synthetic-small"],
        "fractions": [0.1],
        "seeds": 1,
        "protocols": ["linear"],
        "profile_overrides": FAST,
    }
    values.update(fields)
    return load_run_config(None, values)


def run(cfg: RunConfig) -> runner.GridSummary:
    workspace = workspace_for(cfg, progress=False)
    return run_grid(plan_grid(cfg, workspace), workspace)


def test_grid_crosses_methods_protocols_fractions_and_seeds(
    toys: Any, small_synthetic: str
) -> None:
    cfg = config(
        methods=["toy_masked", "random_init", "supervised"],
        fractions=[0.1, 1.0],
        seeds=2,
        protocols=["linear", "finetune"],
    )
    cells = plan_grid(cfg, workspace_for(cfg, progress=False))
    by_method = {m: [c for c in cells if c.unit.method == m] for m in cfg.methods}
    assert len(by_method["toy_masked"]) == 2 * 2 * 2  # protocols x fractions x seeds
    assert {c.protocol for c in by_method["random_init"]} == {"linear"}
    assert {c.protocol for c in by_method["supervised"]} == {"finetune"}
    assert len(cells) == 8 + 4 + 4
    assert len({c.eval_key for c in cells}) == len(cells)
    assert all(cell_status(c) == "pending" for c in cells)


def test_keys_are_stable_and_change_with_what_is_learned(toys: Any, small_synthetic: str) -> None:
    def keys(**fields: Any) -> list[str]:
        cfg = config(**fields)
        return [c.eval_key for c in plan_grid(cfg, workspace_for(cfg, progress=False))]

    assert keys() == keys()
    assert keys() != keys(fractions=[0.5])
    assert keys() != keys(profile_overrides={**FAST, "train": {**FAST["train"], "lr": 0.01}})
    device_only = {**FAST, "train": {**FAST["train"], "device": "cpu", "checkpoint_every": 7}}
    assert keys() == keys(profile_overrides=device_only)


def test_rerun_skips_finished_cells_without_training(
    toys: Any, small_synthetic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = config(seeds=2)
    first = run(cfg)
    assert (first.ran, first.skipped, first.failed) == (2, 0, [])
    assert len(load_results(Path(runner.results_dir()), status="ok")) == 2

    def no_training(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a finished grid must not train again")

    monkeypatch.setattr("bench.grid.workspace.run_pretraining", no_training)
    monkeypatch.setattr("bench.grid.cells.cached_linear_probe", no_training)
    second = run(cfg)
    assert (second.ran, second.skipped, second.failed) == (0, 2, [])


def test_one_failing_pretraining_does_not_stop_other_methods(
    toys: Any, small_synthetic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def broken(plan: Any, *args: Any, **kwargs: Any) -> None:
        calls.append(plan.key)
        raise RuntimeError("disk on fire")

    cfg = config(methods=["toy_masked", "random_init"], seeds=2)
    with monkeypatch.context() as patch:
        patch.setattr("bench.grid.workspace.run_pretraining", broken)
        summary = run(cfg)
    assert summary.ran == 2  # random_init needs no pretraining
    assert len(summary.failed) == 2 and all("disk on fire" in e for _, e in summary.failed)
    assert len(calls) == 1  # the failure is remembered, not retried per cell
    failed = load_results(Path(runner.results_dir()), status="failed")
    assert {r.method for r in failed} == {"toy_masked"}
    retried = run(cfg)  # failed cells are retried on the next run
    assert (retried.ran, retried.skipped, retried.failed) == (2, 2, [])


def test_interrupted_grid_resumes_with_nothing_lost_or_duplicated(
    toys: Any, small_synthetic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = config(seeds=3)
    from bench.grid import cells as cell_execution

    real_run_cell = cell_execution.run_cell
    count = {"n": 0}

    def interrupt_second(*args: Any, **kwargs: Any) -> Any:
        count["n"] += 1
        if count["n"] == 2:
            raise KeyboardInterrupt
        return real_run_cell(*args, **kwargs)

    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(cell_execution, "run_cell", interrupt_second)
        run(cfg)
    done = load_results(Path(runner.results_dir()))
    assert len(done) == 1
    summary = run(cfg)
    assert (summary.ran, summary.skipped) == (2, 1)
    results = load_results(Path(runner.results_dir()))
    assert sorted(r.seed for r in results) == [0, 1, 2]


def test_results_hold_test_metrics_selected_on_validation(toys: Any, small_synthetic: str) -> None:
    cfg = config(protocols=["linear", "finetune"], fractions=[0.5])
    summary = run(cfg)
    assert summary.failed == []
    results = {r.protocol: r for r in load_results(Path(runner.results_dir()))}
    linear, finetune = results["linear"], results["finetune"]
    assert linear.config["selection"]["best_c"] in (0.1, 1.0)
    assert set(linear.config["selection"]["val_auroc_by_c"]) == {"0.1", "1.0"}
    assert finetune.config["selection"]["best_step"] <= finetune.config["selection"]["steps"]
    for result in (linear, finetune):
        assert 0.0 <= result.metrics["macro_auroc"] <= 1.0
        low, high = result.ci["macro_auroc"]
        assert low <= result.metrics["macro_auroc"] <= high
        assert result.n_test > 0 and result.label_names == (
            "bradycardia", "tachycardia", "irregular_rhythm", "wide_qrs", "st_shift",
        )  # fmt: skip
        assert 0.45 < result.realised_fraction < 0.56
        assert result.pretraining["collapse"]["metric"] is None  # the toy has no diagnostic
        assert result.pretraining["collapse"]["collapsed"] is False
