"""What a pool's driver hands out first, and the units a worker plans once."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bench.grid.launchers.driver_queue import seed_major
from bench.grid.plan import load_run_config
from bench.grid.runner import plan_grid, workspace_for
from tests.doubles.grid import FAST


@dataclass(frozen=True)
class _Cell:
    name: str
    seed: int


def test_cells_go_out_seed_major_in_planned_order_within_a_seed() -> None:
    cells = [_Cell(name, seed) for name in ("a", "b") for seed in (0, 1, 2)]
    ordered = seed_major(cells)  # type: ignore[arg-type]
    assert [(c.name, c.seed) for c in ordered] == [
        ("a", 0), ("b", 0), ("a", 1), ("b", 1), ("a", 2), ("b", 2),
    ]  # fmt: skip


@pytest.mark.usefixtures("grid_doubles")
def test_a_workspace_plans_each_unit_once() -> None:
    config = load_run_config(
        None,
        {
            "methods": ["toy_masked", "supervised"],
            "tasks": ["synthetic-small"],
            "fractions": [0.5, 1.0],
            "seeds": 2,
            "profile_overrides": FAST,
        },
    )
    workspace = workspace_for(config, progress=False)
    cells = plan_grid(config, workspace)
    unit = cells[0].unit
    again = workspace.plan_unit(unit.method, unit.dataset, unit.seed)
    assert again is workspace.plan_unit(unit.method, unit.dataset, unit.seed)
    assert again.key == unit.key
    other = workspace.plan_unit(unit.method, unit.dataset, (unit.seed or 0) + 1)
    assert other.key != unit.key  # another pretraining seed: another unit
