"""``bench run``: plan the grid, skip what is done, run the rest, record every outcome."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from tqdm.auto import tqdm

from bench.grid.plan import (
    Cell,
    RunConfig,
    eval_key,
    expand_methods,
    plan_unit,
    resolved_profile,
    task_list,
)
from bench.grid.profiles import Profile
from bench.grid.results import (
    CellResult,
    Predictions,
    collect_provenance,
    describe_failure,
    result_exists,
    write_result,
)
from bench.grid.workspace import Workspace
from bench.paths import results_dir

log = logging.getLogger(__name__)

CellCallback = Callable[[Cell, CellResult], None]


@dataclass
class GridSummary:
    """What a run did: cells run, skipped (already done), failed, and the wall time."""

    ran: int = 0
    skipped: int = 0
    failed: list[tuple[Cell, str]] = field(default_factory=list)
    seconds: float = 0.0

    def lines(self) -> Iterator[str]:
        """A human summary, one line each."""
        yield (
            f"grid finished in {self.seconds:.1f} s: {self.ran} cells run, "
            f"{self.skipped} skipped (already done), {len(self.failed)} failed"
        )
        for cell, error in self.failed:
            yield f"  FAILED {describe_cell(cell)} [{cell.eval_key}]: {error}"

    def add(self, cell: Cell, result: CellResult) -> None:
        """Count one finished cell; a failed one is kept with its error (and logged)."""
        if result.status == "ok":
            self.ran += 1
        else:
            self.failed.append((cell, result.error or ""))
            log.error("cell %s failed: %s", describe_cell(cell), result.error)


def plan_grid(config: RunConfig, workspace: Workspace) -> list[Cell]:
    """Every cell of the grid, in method-major order, with its keys."""
    profile = workspace.profile
    tasks = task_list(config)
    cells: list[Cell] = []
    for method in expand_methods(config.methods):
        units = {}
        for task in tasks:
            data = workspace.dataset(task.dataset)
            if task.dataset not in units:
                units[task.dataset] = plan_unit(method, task.dataset, profile, data)
            unit = units[task.dataset]
            for protocol in config.protocols:
                if protocol not in unit.setup.method.protocols:
                    continue
                for fraction in config.fractions:
                    for seed in config.seed_list:
                        key = eval_key(unit, task, protocol, fraction, seed, profile, data)
                        cells.append(Cell(unit, task, protocol, fraction, seed, key))
    return cells


def describe_cell(cell: Cell) -> str:
    """method / task / protocol / fraction / seed."""
    return (
        f"{cell.unit.method} / {cell.task.name} / {cell.protocol} / "
        f"{cell.fraction:g} / seed {cell.seed}"
    )


def cell_status(cell: Cell) -> str:
    """ "done", "failed" (recorded, will be retried) or "pending"."""
    if result_exists(results_dir(), cell.eval_key):
        return "done"
    if result_exists(results_dir(), cell.eval_key, include_failed=True):
        return "failed"
    return "pending"


def run_grid(
    cells: list[Cell],
    workspace: Workspace,
    overwrite: bool = False,
    on_result: CellCallback | None = None,
) -> GridSummary:
    """Run every cell not already done (all of them with ``overwrite``); failures are recorded.

    A failed cell never stops the others: its error goes to a result file with status
    "failed" (retried on the next run). Results are written atomically as each cell ends, so
    an interrupted grid loses nothing that had finished.
    """
    started = time.perf_counter()
    todo = cells_to_run(cells, overwrite)
    summary = GridSummary(skipped=len(cells) - len(todo))
    bar = tqdm(todo, desc="grid", unit="cell", disable=not workspace.progress, position=0)
    for cell in bar:
        bar.set_postfix_str(describe_cell(cell))
        result = run_and_record(cell, workspace)
        summary.add(cell, result)
        if on_result is not None:
            on_result(cell, result)
    summary.seconds = time.perf_counter() - started
    return summary


def cells_to_run(cells: list[Cell], overwrite: bool = False) -> list[Cell]:
    """The cells not done yet (every cell with ``overwrite``), order kept."""
    return [c for c in cells if overwrite or cell_status(c) != "done"]


def run_and_record(cell: Cell, workspace: Workspace) -> CellResult:
    """Run one cell and write its result file atomically; a failure is recorded, not raised."""
    result, predictions = _attempt(cell, workspace)
    write_result(results_dir(), result, predictions)
    return result


def _attempt(cell: Cell, workspace: Workspace) -> tuple[CellResult, Predictions | None]:
    from bench.grid.cells import run_cell

    try:
        return run_cell(cell, workspace)
    except Exception as error:
        return failed_result(cell, workspace.profile, error), None


def failed_result(cell: Cell, profile: Profile, error: BaseException) -> CellResult:
    """The result record of a cell that raised ``error``."""
    message, trace = describe_failure(error)
    return CellResult(
        **cell.identity(),
        profile=profile.name,
        label_names=(),
        n_train=0,
        n_val=0,
        n_test=0,
        realised_fraction=0.0,
        config={"unit_key": cell.unit.key},
        provenance=collect_provenance(""),
        status="failed",
        error=message,
        traceback=trace,
    )


def workspace_for(config: RunConfig, progress: bool = True) -> Workspace:
    """A workspace on the run's profile (overrides applied) and data roots."""
    return Workspace(resolved_profile(config), dict(config.data_roots), progress)
