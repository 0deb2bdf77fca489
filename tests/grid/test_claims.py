"""Runners sharing a grid: held cells are put off and come back, cells done elsewhere are
dropped, a unit another runner prepares waits (in-process and in a driver's queue)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.grid.claims import CellClaims, cell_lease, pretrain_lease
from bench.grid.launchers.driver_queue import DriverQueue
from bench.grid.leases import Holder
from bench.grid.plan import Cell, load_run_config
from bench.grid.results import result_paths
from bench.grid.runner import plan_grid, run_and_record, workspace_for
from tests.doubles.grid import FAST


def cells(methods: list[str]) -> tuple[list[Cell], Any]:
    values = {
        "methods": methods,
        "tasks": ["synthetic-small"],
        "fractions": [0.5],
        "seeds": 2,
        "protocols": ["linear"],
        "profile_overrides": FAST,
    }
    config = load_run_config(None, values)
    workspace = workspace_for(config, progress=False)
    return plan_grid(config, workspace), workspace


def test_a_held_cell_is_put_off_then_dropped_when_done_elsewhere(
    toys: Any, small_synthetic: str, isolated_results: Path
) -> None:
    (first, second), workspace = cells(["random_init"])
    me, other = Holder(isolated_results), Holder(isolated_results)
    assert other.try_acquire(cell_lease(first))
    claims = CellClaims([first, second], me, poll_s=0.01)
    assert claims.next(block=False) is second  # the held one is put off
    claims.release(second)
    assert claims.next(block=False) is None and claims.left == 1
    run_and_record(first, workspace)  # the other runner finishes it...
    other.release(cell_lease(first))
    assert claims.next() is None  # ...so it is dropped, not computed again
    assert claims.elsewhere == 1 and result_paths(isolated_results, first.eval_key)[0].is_file()


def test_a_cell_whose_pretraining_another_runner_trains_waits_for_it(
    toys: Any, small_synthetic: str, isolated_results: Path
) -> None:
    grid, _ = cells(["toy_masked"])
    me, other = Holder(isolated_results), Holder(isolated_results)
    assert other.try_acquire(pretrain_lease(grid[0].unit.key))
    claims = CellClaims(grid, me)
    assert claims.next(block=False) is None and claims.left == 2
    other.release(pretrain_lease(grid[0].unit.key))
    assert claims.next(block=False) is grid[0]


def test_a_driver_claims_unit_jobs_and_hands_out_cells_once_ready(
    toys: Any, small_synthetic: str, isolated_results: Path
) -> None:
    grid, _ = cells(["toy_masked"])
    me, other = Holder(isolated_results), Holder(isolated_results)
    assert other.try_acquire(pretrain_lease(grid[0].unit.key))
    queue = DriverQueue(grid, me)
    assert queue.next_job() is None and queue.next_cell() is None and not queue.finished
    other.release(pretrain_lease(grid[0].unit.key))
    key, job = queue.next_job()  # type: ignore[misc]
    assert me.held_elsewhere(pretrain_lease(job.key)) is None
    assert other.held_elsewhere(pretrain_lease(job.key)) is not None  # held by this driver
    from bench.grid.launchers.worker_tasks import UnitOutcome

    queue.job_done(key, job, UnitOutcome(key, 0.0, "here"))
    handed = [queue.next_cell(), queue.next_cell()]
    assert [c for c, _ in handed] == grid  # type: ignore[misc]
    for cell, outcome in handed:  # type: ignore[misc]
        assert outcome is not None and outcome.error is None
        queue.cell_done(cell)
    assert queue.finished
