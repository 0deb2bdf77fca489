"""benchmarks/grid_floor.py: its counts equal the FLOPs the grid's own code runs."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from bench.evaluation.frozen_features import clear_memo
from bench.grid.cells import run_cell
from bench.grid.plan import Cell
from bench.grid.workspace import Workspace
from bench.perf.flops import count_flops

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "grid_floor.py"
FAST = [
    "--set", "profile_overrides.evaluation.n_boot=20",
    "--set", "profile_overrides.evaluation.linear.c_grid=[1.0]",
    "--set", "profile_overrides.train.max_steps=2",
    "--set", "profile_overrides.train.batch_size=16",
    "--set", "profile_overrides.methods.cpc.config={hidden: 16, width: 16, lstm_layers: 1}",
]  # fmt: skip


@pytest.fixture(scope="module")
def floor() -> Iterator[ModuleType]:
    """The benchmark script, imported as it runs: from its folder on the path (benchmarks/ is
    not a package; the script imports its sibling machine_rates by name)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(SCRIPT.parent))
        yield importlib.import_module(SCRIPT.stem)


def planned(floor: ModuleType, task: str, *options: str) -> tuple[Workspace, list[Cell], Any]:
    """The workspace, cells and ``GridCount`` of a smoke grid on ``task`` with ``options``."""
    args = floor.parse_args(["--tasks", task, "--profile", "smoke", *FAST, *options])
    _, workspace, cells = floor.plan(args)
    return workspace, cells, floor.GridCounter(workspace, pretrain_draws=2).count(cells)


@pytest.mark.parametrize("method", ["supervised", "cpc"])  # one stage; head-then-everything
def test_a_finetune_cell_counts_what_running_it_computes(
    floor: ModuleType, small_synthetic: str, method: str
) -> None:
    workspace, cells, counted = planned(
        floor, small_synthetic, "--methods", method, "--fractions", "0.1", "--seeds", "1",
        "--protocols", "finetune", "--set", "profile_overrides.evaluation.finetune.min_steps=4",
    )  # fmt: skip
    (cell,) = cells
    one = counted.finetunes[cell.eval_key]
    assert sum(one.stage_steps) == 4 and len(one.stage_steps) == (2 if method == "cpc" else 1)
    pretrained = count_flops(lambda: workspace.encoder(cell.unit, cell.seed))
    assert pretrained == counted.total("pretraining")
    assert (pretrained > 0) == (method == "cpc")
    clear_memo()  # frozen features of an earlier test's encoder
    ran = count_flops(lambda: run_cell(cell, workspace))
    assert ran == counted.total("finetune train") + counted.total("finetune scoring")
    if method == "cpc":  # its frozen stage's validation features are counted once
        assert counted.total("finetune scoring") > one.scoring_flops


def test_doubling_min_steps_doubles_the_train_flops_only(
    floor: ModuleType, small_synthetic: str
) -> None:
    base = ["--methods", "supervised", "--fractions", "0.1", "--seeds", "1"]
    counts = [
        planned(floor, small_synthetic, *base, "--protocols", "finetune", "--set",
                f"profile_overrides.evaluation.finetune.min_steps={steps}")[2]
        for steps in (4, 8)
    ]  # fmt: skip
    assert counts[1].total("finetune train") == 2 * counts[0].total("finetune train")
    assert counts[1].total("finetune scoring") == counts[0].total("finetune scoring")


def test_linear_cells_embed_once_per_encoder_and_fit_once_per_distinct_rows(
    floor: ModuleType, small_synthetic: str
) -> None:
    workspace, cells, counted = planned(
        floor, small_synthetic, "--methods", "random_init", "--fractions", "0.5", "1.0",
        "--seeds", "2", "--protocols", "linear",
    )  # fmt: skip
    assert len(cells) == 4
    assert len(counted.probe_fits) == 3  # the two seeds at 100 % share their fit
    unit = cells[0].unit
    embedded = count_flops(lambda: workspace.embeddings(unit, cells[0].seed))
    assert counted.total("linear embedding") == embedded > 0
    assert counted.total() == embedded


@pytest.mark.parametrize("method", ["supervised", "cpc", "jepa", "hybrid"])
def test_a_large_fine_tune_step_extrapolated_from_small_ones_equals_its_count(
    floor: ModuleType, small_synthetic: str, method: str
) -> None:
    """Counting a paper-size step for real would run it; the counter counts at 2 and 4
    records and extrapolates. Both ways agree for convolutional, recurrent and transformer
    encoders, frozen or trained."""
    workspace, cells, _ = planned(
        floor, small_synthetic, "--methods", method, "--fractions", "1.0", "--seeds", "1",
        "--protocols", "finetune",
    )  # fmt: skip
    (cell,) = cells
    counter = floor.GridCounter(workspace, pretrain_draws=1)
    data, subset, _, _ = counter.rows(cell)
    for trains in ("head", "all"):
        direct = counter.step_flops(cell, data, subset, 12, trains)
        assert counter.batch_step_flops(cell, data, subset, 12, trains) == direct > 0


def test_pretraining_seeds_of_one_setup_share_one_counted_step(
    floor: ModuleType, small_synthetic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted_steps: list[object] = []
    module = importlib.import_module(floor.GridCounter.__module__)  # bench.perf.grid_flops
    original = module.count_step_flops
    monkeypatch.setattr(
        module, "count_step_flops", lambda loop: counted_steps.append(loop) or original(loop)
    )
    _, cells, counted = planned(
        floor, small_synthetic, "--methods", "cpc", "--fractions", "1.0", "--seeds", "1",
        "--pretrain-seeds", "2", "--protocols", "linear",
    )  # fmt: skip
    assert len({cell.unit.key for cell in cells}) == 2 == len(counted.pretrainings)
    assert len(counted_steps) == 2  # pretrain_draws=2 for the first seed, none for the second
    first, second = counted.pretrainings.values()
    assert first.draws == second.draws and first.flops > 0


def test_fine_tune_steps_of_one_setup_are_counted_once_for_all_its_seeds(
    floor: ModuleType, small_synthetic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[object] = []
    original = floor.GridCounter.train_step
    monkeypatch.setattr(
        floor.GridCounter,
        "train_step",
        lambda self, *args, **kwargs: built.append(args) or original(self, *args, **kwargs),
    )
    _, cells, counted = planned(
        floor, small_synthetic, "--methods", "cpc", "--fractions", "1.0", "--seeds", "1",
        "--pretrain-seeds", "2", "--protocols", "finetune",
    )  # fmt: skip
    assert len({cell.unit.key for cell in cells}) == 2
    first, second = (counted.finetunes[cell.eval_key] for cell in cells)
    assert first.step_flops == second.step_flops and min(first.step_flops) > 0
    assert len(built) == 2 * len(first.stage_steps)  # batches 2 and 4 per stage, one seed only
