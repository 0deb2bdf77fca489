"""``bench run``: plan the grid, skip what is done, run the rest, record every outcome."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from tqdm.auto import tqdm

from bench.data.signals import SignalSet
from bench.errors import DataError, DiskFullError
from bench.grid.cell_noise import check_noise_inputs
from bench.grid.claims import CellClaims
from bench.grid.fold_check import empty_fold_problem
from bench.grid.leases import Holder
from bench.grid.method_groups import expand_methods
from bench.grid.plan import (
    Cell,
    RunConfig,
    Unit,
    eval_key,
    resolved_profile,
    task_list,
)
from bench.grid.profiles import Profile
from bench.grid.protocols import skip_reason
from bench.grid.provenance import collect_provenance
from bench.grid.result_state import result_state, settle_corrupt
from bench.grid.results import CellResult, Predictions, describe_failure, write_result
from bench.grid.twins import shared_twins, with_matched_baselines
from bench.grid.workspace import Workspace
from bench.paths import results_dir
from bench.task import Task

log = logging.getLogger(__name__)

CellCallback = Callable[[Cell, CellResult], None]


@dataclass
class GridSummary:
    """What a run did: cells run, skipped (already done), done meanwhile by another runner,
    failed, and the wall time."""

    ran: int = 0
    skipped: int = 0
    failed: list[tuple[Cell, str]] = field(default_factory=list)
    seconds: float = 0.0
    elsewhere: int = 0

    def lines(self) -> Iterator[str]:
        """A human summary, one line each."""
        yield (
            f"grid finished in {self.seconds:.1f} s: {self.ran} cells run, "
            f"{self.skipped} skipped (already done), "
            + (f"{self.elsewhere} done by another runner, " if self.elsewhere else "")
            + f"{len(self.failed)} failed"
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


def plan_grid(config: RunConfig, workspace: Workspace, notes: set[str] | None = None) -> list[Cell]:
    """Every cell of the grid, in method-major order, with its keys: each method has a unit per
    pretraining seed, and every fraction seed is evaluated on every unit. A matched baseline
    that is its shared baseline's network is left to the shared one (``bench.grid.twins``).
    Why a method, task and protocol of the run get no cells (``skip_reason``) is added to
    ``notes``. ConfigError when a cell's noise robustness levels cannot apply to its dataset;
    DataError naming every task with an empty training, validation or test fold."""
    profile = workspace.profile
    tasks = task_list(config)
    methods = expand_methods(config.methods)
    seeds = config.pretrain_seed_list(profile)
    datasets = dict.fromkeys(task.dataset for task in tasks)
    twins = {name: shared_twins(workspace, methods, name, seeds[0]) for name in datasets}
    cells: list[Cell] = []
    problems: dict[str, str | None] = {}
    for method, size in _method_sizes(config, methods, profile):
        for pretrain_seed in seeds:
            units = {}
            for task in tasks:
                if method in twins[task.dataset]:
                    continue
                if task.dataset not in units:
                    unit = workspace.plan_unit(method, task.dataset, pretrain_seed, size)
                    units[task.dataset] = with_matched_baselines(unit, twins[task.dataset])
                unit = units[task.dataset]
                data = workspace.unit_data(unit)
                if task.name not in problems:
                    problems[task.name] = empty_fold_problem(task, data)
                found = notes if notes is not None else set()
                cells += _unit_cells(config, unit, task, profile, data, found)
    refused = [problem for problem in problems.values() if problem]
    if refused:
        raise DataError(
            "\n".join(refused) + "\nEvery task needs records in all three folds (1-8 training, "
            "9 validation, 10 test): add records (or the sources named), or leave the task "
            "out of --tasks."
        )
    check_noise_inputs(cells, workspace)
    return cells


def _method_sizes(
    config: RunConfig, methods: list[str], profile: Profile
) -> list[tuple[str, int | str]]:
    """(method, corpus subset size): an SSL method once per ``pretrain_records`` size, a
    baseline once."""
    return [
        (method, size)
        for method in methods
        for size in (
            config.pretrain_records
            if profile.resolve(method).method.needs_pretraining
            else ("all",)
        )
    ]


def _unit_cells(
    config: RunConfig, unit: Unit, task: Task, profile: Profile, data: SignalSet, notes: set[str]
) -> list[Cell]:
    """The cells of one unit on one task: its protocols x label budgets (fractions or shots)
    x fraction seeds; none where ``skip_reason`` gives a reason, which goes to ``notes``."""
    cells = []
    for protocol in config.protocols:
        for fraction, shots in config.budgets_for(task):
            reason = skip_reason(unit, task, protocol, shots)
            if reason is not None:
                notes.add(reason)
                continue
            for seed in config.seed_list:
                key = eval_key(unit, task, protocol, fraction, seed, profile, data, shots)
                cells.append(Cell(unit, task, protocol, fraction, seed, key, shots))
    return cells


def describe_cell(cell: Cell) -> str:
    """method[@corpus] / task / protocol / fraction / seed (with the pretraining seed when set)."""
    pretrain = f"pretrain seed {cell.unit.seed} / " if cell.unit.seed is not None else ""
    method = cell.unit.method + (f"@{cell.unit.corpus}" if cell.unit.corpus else "")
    return (
        f"{method} / {cell.task.name} / {cell.protocol} / "
        f"{cell.budget_text} / {pretrain}seed {cell.seed}"
    )


def cell_status(cell: Cell) -> str:
    """ "done", "failed" (recorded, will be retried), "corrupt" (will be moved aside and
    redone) or "pending"."""
    state, _ = result_state(results_dir(), cell.eval_key)
    return {"ok": "done", "failed": "failed", "corrupt": "corrupt"}.get(state, "pending")


def run_grid(
    cells: list[Cell],
    workspace: Workspace,
    overwrite: bool = False,
    on_result: CellCallback | None = None,
) -> GridSummary:
    """Run every cell not already done (all of them with ``overwrite``); failures are recorded.

    A failed cell never stops the others: its error goes to a result file with status
    "failed" (retried on the next run). Results are written atomically as each cell ends, so
    an interrupted grid loses nothing that had finished. Each cell (and pretraining) is
    claimed first (``bench.grid.claims``), so runners sharing the results folder share the
    work; a full disk stops the run (DiskFullError naming the folder).
    """
    started = time.perf_counter()
    todo = cells_to_run(cells, overwrite)
    summary = GridSummary(skipped=len(cells) - len(todo))
    bar = tqdm(total=len(todo), desc="grid", unit="cell", disable=not workspace.progress)
    with Holder(results_dir()) as holder:
        claims = CellClaims(todo, holder)
        workspace.leases = holder
        try:
            while (cell := claims.next()) is not None:
                bar.set_postfix_str(describe_cell(cell))
                try:
                    result = run_and_record(cell, workspace)
                finally:
                    claims.release(cell)
                summary.add(cell, result)
                if on_result is not None:
                    on_result(cell, result)
                bar.update()
        finally:
            workspace.leases = None
            bar.close()
    summary.elsewhere = claims.elsewhere
    summary.seconds = time.perf_counter() - started
    return summary


def cells_to_run(cells: list[Cell], overwrite: bool = False) -> list[Cell]:
    """The cells not done yet (every cell with ``overwrite``), order kept; a corrupt result is
    moved aside first (reported by name), so its cell is redone."""
    return [c for c in cells if overwrite or settle_corrupt(results_dir(), c.eval_key) != "ok"]


def run_and_record(cell: Cell, workspace: Workspace) -> CellResult:
    """Run one cell and write its result file atomically; a failure is recorded, not raised."""
    result, predictions = _attempt(cell, workspace)
    write_result(results_dir(), result, predictions)
    return result


def _attempt(cell: Cell, workspace: Workspace) -> tuple[CellResult, Predictions | None]:
    from bench.grid.cells import run_cell

    try:
        return run_cell(cell, workspace)
    except DiskFullError:
        raise
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
    """A workspace on the run's profile (overrides applied), data roots and corpus (whose
    exclusions protect the val/test folds of every task's dataset)."""
    datasets = tuple(dict.fromkeys(task.dataset for task in task_list(config)))
    return Workspace(
        resolved_profile(config),
        dict(config.data_roots),
        progress,
        pretrain_data=config.pretrain_data,
        protected_datasets=datasets if config.pretrain_data is not None else (),
    )
