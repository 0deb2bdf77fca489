"""A published checkpoint in the grid: its official input, weights-keyed units, provenance,
matched baselines built without weights, and the leakage mark in results and leaderboards."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from bench.checkpoints.weights import sha256
from bench.grid.method_groups import expand_methods
from bench.grid.plan import load_run_config
from bench.grid.results import load_results
from bench.grid.runner import plan_grid, run_grid, workspace_for
from bench.reporting.formats import to_markdown
from bench.reporting.leaderboard import leaderboard_frame
from bench.task import TASKS
from tests.doubles.grid import FAST, SmallTask, small_synthetic
from tests.doubles.toy_checkpoint import ToyCheckpoint, toy_checkpoint, write_official

__all__ = ["small_synthetic", "toy_checkpoint"]


class LeakyTask(SmallTask):
    """The small synthetic task pretending its records are PTB-XL's."""

    name = "synthetic-small-ptbxl"

    def data_sources(self) -> tuple[str, ...]:
        return ("ptbxl",)


@pytest.fixture
def weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("BENCH_WEIGHTS", raising=False)
    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path))
    return write_official(tmp_path / ToyCheckpoint.card.file_name, seed=2)


def _grid(methods: list[str], tasks: list[str], protocols: list[str]) -> Any:
    config = load_run_config(
        None,
        {
            "methods": methods, "tasks": tasks, "fractions": [1.0], "seeds": 1,
            "protocols": protocols, "profile_overrides": FAST,
        },
    )  # fmt: skip
    workspace = workspace_for(config, progress=False)
    return plan_grid(config, workspace), workspace


def test_the_group_names_checkpoints_and_their_matched_baselines(
    toy_checkpoint: type[ToyCheckpoint],
) -> None:
    members = expand_methods(("checkpoints",))
    checkpoints = [m for m in members if "[" not in m]
    assert "toy-checkpoint" in checkpoints and "st-mem" in checkpoints
    assert members[: len(checkpoints)] == checkpoints  # the models, then their baselines
    assert {"random_init[toy-checkpoint]", "supervised[toy-checkpoint]"} <= set(members)
    assert "toy-checkpoint" not in expand_methods(("all",))


def test_units_get_the_official_input_and_are_keyed_by_the_weights(
    small_synthetic: str, toy_checkpoint: type[ToyCheckpoint], weights: Path
) -> None:
    cells, workspace = _grid(
        ["toy-checkpoint", "random_init[toy-checkpoint]"], [small_synthetic], ["linear"]
    )
    units = {cell.unit.method: cell.unit for cell in cells}
    for unit in units.values():
        assert unit.setup.preprocessing == ToyCheckpoint.official_input.preprocessing()
        assert unit.setup.window_s == 2.5
        assert unit.input_kind(workspace.profile) == "native"
    assert units["toy-checkpoint"].pretrained_encoder
    assert not units["random_init[toy-checkpoint]"].pretrained_encoder
    before = units["toy-checkpoint"].key
    write_official(weights, seed=5)  # other weights under the same file name
    cells, _ = _grid(["toy-checkpoint"], [small_synthetic], ["linear"])
    assert cells[0].unit.key != before


def test_grid_runs_records_weights_and_marks_leakage(
    small_synthetic: str,
    toy_checkpoint: type[ToyCheckpoint],
    weights: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(TASKS._items, LeakyTask.name, LeakyTask())
    methods = ["toy-checkpoint", "random_init[toy-checkpoint]"]
    cells, workspace = _grid(methods, [small_synthetic, LeakyTask.name], ["linear", "finetune"])
    summary = run_grid(cells, workspace)
    assert summary.failed == [] and summary.ran == len(cells) == 6
    results = load_results(Path(os.environ["BENCH_RESULTS"]))
    checkpoint = [r for r in results if r.method == "toy-checkpoint"]
    assert {r.config["weights"]["weights_sha256"] for r in checkpoint} == {sha256(weights)}
    leaks = {r.task: r.config["leakage"] for r in checkpoint}
    assert leaks[small_synthetic] is None
    assert (
        leaks[LeakyTask.name]
        == "PTB-XL was in toy-checkpoint's pretraining corpus (PhysioNet/CinC 2021)"
    )
    assert all("leakage" not in r.config for r in results if r.method != "toy-checkpoint")
    frame = leaderboard_frame(Path(os.environ["BENCH_RESULTS"]))
    markdown = to_markdown(frame, "note")
    assert "| toy-checkpoint [native input] [seen in training] |" in markdown
    assert f"[seen in training] toy-checkpoint on {LeakyTask.name}: PTB-XL was in" in markdown
