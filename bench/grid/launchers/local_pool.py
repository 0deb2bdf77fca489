"""``bench run --jobs N``: the grid's cells over N local worker processes.

Small models cannot keep several CPU cores busy from one process, so on a CPU machine the
local launcher runs N single-threaded workers side by side (on a GPU machine one process owns
the GPU: ``--jobs`` defaults to 1 there). Work is ordered as with Ray: each pending pretraining
(and the frozen embeddings its linear cells need) is one job, and a unit's cells are submitted
once it is ready. Workers rebuild their own workspace and write the result files atomically;
this (driver) process counts the results, mirrors them to MLflow and shows the progress bar.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

import torch
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from bench.config import check_range
from bench.grid.launchers.worker_tasks import (
    CellIdentity,
    RunContext,
    UnitOutcome,
    prepare_unit,
    run_cell_task,
    run_context,
    unit_jobs,
)
from bench.grid.plan import Cell, RunConfig
from bench.grid.profiles import Profile
from bench.grid.results import CellResult, describe_failure, write_result
from bench.grid.runner import CellCallback, GridSummary, cells_to_run, describe_cell, failed_result
from bench.grid.workspace import Workspace
from bench.paths import results_dir


def default_jobs() -> int:
    """One worker per CPU core on a CPU machine; one process on a GPU machine."""
    return 1 if torch.cuda.is_available() else os.cpu_count() or 1


def run_grid_in_pool(
    cells: list[Cell],
    config: RunConfig,
    workspace: Workspace,
    jobs: int,
    overwrite: bool = False,
    on_result: CellCallback | None = None,
    worker_setup: str | None = None,
) -> GridSummary:
    """Run the pending cells on ``jobs`` worker processes; the in-process runner's summary.

    ``worker_setup`` ("module:function") is called once in each worker, e.g. to register
    plugins that are neither built in nor installed as entry points.
    """
    check_range("--jobs", jobs, 1)
    started = time.perf_counter()
    todo = cells_to_run(cells, overwrite)
    summary = GridSummary(skipped=len(cells) - len(todo))
    if todo:
        threads = max(1, (os.cpu_count() or 1) // jobs)
        pool = ProcessPoolExecutor(
            jobs,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(threads, worker_setup),
        )
        try:
            _Pool(pool, run_context(config), workspace.profile).run(
                todo, summary, on_result, workspace.progress
            )
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    summary.seconds = time.perf_counter() - started
    return summary


class _Pool:
    """The driver's side: unit jobs first, each unit's cells once it is ready."""

    def __init__(self, pool: ProcessPoolExecutor, context: RunContext, profile: Profile):
        self.pool = pool
        self.context = context
        self.profile = profile
        self.units: dict[Future[UnitOutcome], str] = {}
        self.cells: dict[Future[CellResult], Cell] = {}
        self.waiting: dict[str, list[Cell]] = {}

    def run(
        self, todo: list[Cell], summary: GridSummary, on_result: CellCallback | None, progress: bool
    ) -> None:
        jobs = unit_jobs(todo)
        for key, job in jobs.items():
            self.units[self.pool.submit(prepare_unit, self.context, job)] = key
        for cell in todo:
            key = Workspace.encoder_key(cell.unit, cell.seed)
            if key in jobs:
                self.waiting.setdefault(key, []).append(cell)
            else:
                self._submit(cell, None)
        with tqdm(total=len(todo), desc="grid", unit="cell", disable=not progress) as bar:
            while self.units or self.cells:
                done, _ = wait([*self.units, *self.cells], return_when=FIRST_COMPLETED)
                for future in done:
                    if future in self.units:
                        self._unit_ready(future)  # type: ignore[arg-type]
                        continue
                    cell = self.cells.pop(future)  # type: ignore[arg-type]
                    result = self._result(future, cell)  # type: ignore[arg-type]
                    summary.add(cell, result)
                    if on_result is not None:
                        on_result(cell, result)
                    bar.set_postfix_str(describe_cell(cell))
                    bar.update()

    def _submit(self, cell: Cell, unit: UnitOutcome | None) -> None:
        future = self.pool.submit(run_cell_task, self.context, CellIdentity.of(cell), unit)
        self.cells[future] = cell

    def _unit_ready(self, future: Future[UnitOutcome]) -> None:
        key = self.units.pop(future)
        try:
            outcome = future.result()
        except Exception as error:  # the worker process itself failed
            message, trace = describe_failure(error)
            outcome = UnitOutcome(key, 0.0, "local", message, trace)
        for cell in self.waiting.pop(key, []):
            self._submit(cell, outcome)

    def _result(self, future: Future[CellResult], cell: Cell) -> CellResult:
        """The worker's result; when the worker itself failed, the driver records it."""
        try:
            return future.result()
        except Exception as error:
            result = failed_result(cell, self.profile, error)
            write_result(results_dir(), result)
            return result


def _start_worker(threads: int, setup: str | None) -> None:
    """One worker's start: its thread counts and the optional setup hook.

    Both torch and the BLAS / OpenMP pools behind numpy, scipy and scikit-learn (all loaded by
    this module's imports) are capped: uncapped, N workers' probes each spin one BLAS thread
    per core and a linear-probe cell takes up to 10x longer.
    """
    torch.set_num_threads(threads)
    threadpool_limits(threads)
    if setup:
        module, _, function = setup.partition(":")
        getattr(importlib.import_module(module), function)()
