"""``bench run --jobs N``: the grid's cells over N local worker processes.

Small models cannot keep several CPU cores busy from one process, so on a CPU machine the
local launcher runs N single-threaded workers side by side (on a GPU machine one process owns
the GPU: ``--jobs`` defaults to 1 there). Work is ordered as with Ray: each pending pretraining
(and the frozen embeddings its linear cells need) is one job, and a unit's cells are submitted
once it is ready. Workers rebuild their own workspace and write the result files atomically;
this (driver) process counts the results, mirrors them to MLflow and shows the progress bar.
The driver claims each unit and cell as it hands it out, so several runners (each with its own
pool) share one results folder without computing anything twice (``driver_queue``). The
driver's per-result callback (the MLflow mirror: a database write of up to a second per cell,
mostly waiting on the disk) runs on a thread of its own, in order, so a worker that finishes is
handed its next task at once instead of idling until the cell is logged.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from queue import Queue
from typing import Any

import torch
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from bench.config import check_range
from bench.errors import DiskFullError
from bench.grid.launchers.driver_queue import DriverQueue
from bench.grid.launchers.worker_status import WorkerBoard, run_reported, set_status_queue
from bench.grid.launchers.worker_tasks import (
    CellIdentity,
    RunContext,
    UnitJob,
    UnitOutcome,
    prepare_unit,
    run_cell_task,
    run_context,
)
from bench.grid.leases import POLL_S, Holder
from bench.grid.plan import Cell, RunConfig
from bench.grid.profiles import Profile
from bench.grid.results import CellResult, describe_failure, write_result
from bench.grid.runner import CellCallback, GridSummary, cells_to_run, describe_cell, failed_result
from bench.grid.workspace import Workspace
from bench.paths import results_dir

STATUS_REFRESH_S = 1.0  # how often the workers' line is redrawn at most


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
        context = multiprocessing.get_context("spawn")
        status = context.Queue() if workspace.progress else None
        pool = ProcessPoolExecutor(
            jobs,
            mp_context=context,
            initializer=_start_worker,
            initargs=(threads, worker_setup, status),
        )
        try:
            with Holder(results_dir()) as holder:
                queue = DriverQueue(todo, holder)
                reporter = _Reporter(on_result)
                try:
                    _Pool(pool, jobs, run_context(config), workspace.profile, status).run(
                        queue, summary, reporter.submit, workspace.progress
                    )
                finally:
                    reporter.close()
                summary.elsewhere = queue.elsewhere
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    summary.seconds = time.perf_counter() - started
    return summary


class _Reporter:
    """Runs a per-result callback on one background thread, in submission order; its first
    error is raised in the driver (at the next submit, or when closing)."""

    def __init__(self, callback: CellCallback | None):
        self.callback = callback
        self.items: Queue[tuple[Cell, CellResult] | None] = Queue()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._work, name="bench-on-result", daemon=True)
        if callback is not None:
            self.thread.start()

    def submit(self, cell: Cell, result: CellResult) -> None:
        if self.callback is None:
            return
        self._raise()
        self.items.put((cell, result))

    def close(self) -> None:
        """Wait until every submitted result is handled; raise the callback's error."""
        if self.callback is None:
            return
        self.items.put(None)
        self.thread.join()
        self._raise()

    def _work(self) -> None:
        assert self.callback is not None
        while (item := self.items.get()) is not None:
            if self.error is None:  # after an error the rest is drained, not handled
                try:
                    self.callback(*item)
                except BaseException as error:
                    self.error = error

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error


class _Pool:
    """The driver's side: unit jobs first, each unit's cells once it is ready, at most
    ``slots`` tasks in flight (so only what runs is claimed)."""

    def __init__(
        self,
        pool: ProcessPoolExecutor,
        slots: int,
        context: RunContext,
        profile: Profile,
        status: Any = None,
    ):
        self.pool = pool
        self.slots = slots
        self.context = context
        self.profile = profile
        self.status = status  # the workers' status queue (None: no progress shown)
        self.board = WorkerBoard()
        self.units: dict[Future[UnitOutcome], tuple[str, UnitJob]] = {}
        self.cells: dict[Future[CellResult], Cell] = {}

    def run(
        self,
        queue: DriverQueue,
        summary: GridSummary,
        on_result: CellCallback | None,
        progress: bool,
    ) -> None:
        total = queue.claims.left + sum(len(c) for c in queue.waiting.values())
        with (
            tqdm(total=total, desc="grid", unit="cell", disable=not progress) as bar,
            tqdm(bar_format="{desc}", position=1, disable=not progress) as line,
        ):
            while not queue.finished or self.units or self.cells:
                self._fill(queue)
                if not (self.units or self.cells):
                    time.sleep(POLL_S)  # everything left is held by another runner
                    continue
                timeout = None if queue.finished else POLL_S
                if self.status is not None:  # redraw the workers' line now and then
                    timeout = min(timeout or STATUS_REFRESH_S, STATUS_REFRESH_S)
                done, _ = wait([*self.units, *self.cells], timeout, FIRST_COMPLETED)
                if self.status is not None:
                    self.board.drain(self.status)
                    line.set_description_str(self.board.line())
                for future in done:
                    if future in self.units:
                        self._unit_ready(queue, future)  # type: ignore[arg-type]
                        continue
                    cell = self.cells.pop(future)  # type: ignore[arg-type]
                    try:
                        result = self._result(future, cell)  # type: ignore[arg-type]
                    finally:
                        queue.cell_done(cell)
                    summary.add(cell, result)
                    if on_result is not None:
                        on_result(cell, result)
                    bar.set_postfix_str(describe_cell(cell))
                    bar.update()

    def _fill(self, queue: DriverQueue) -> None:
        """Hand out claimed work until every slot is busy or nothing can be taken now."""
        while len(self.units) + len(self.cells) < self.slots:
            job = queue.next_job()
            if job is not None:
                unit_job = job[1]
                label = f"pretrain {unit_job.method}" + (" + embed" if unit_job.embed else "")
                submitted = self.pool.submit(
                    run_reported, label, prepare_unit, self.context, unit_job
                )
                self.units[submitted] = job
                continue
            ready = queue.next_cell()
            if ready is None:
                return
            cell, unit = ready
            identity, label = CellIdentity.of(cell), describe_cell(cell)
            future = self.pool.submit(
                run_reported, label, run_cell_task, self.context, identity, unit
            )
            self.cells[future] = cell

    def _unit_ready(self, queue: DriverQueue, future: Future[UnitOutcome]) -> None:
        key, job = self.units.pop(future)
        try:
            outcome = future.result()
        except DiskFullError:
            raise
        except Exception as error:  # the worker process itself failed
            message, trace = describe_failure(error)
            outcome = UnitOutcome(key, 0.0, "local", message, trace)
        queue.job_done(key, job, outcome)

    def _result(self, future: Future[CellResult], cell: Cell) -> CellResult:
        """The worker's result; when the worker itself failed, the driver records it (a full
        disk stops the run instead)."""
        try:
            return future.result()
        except DiskFullError:
            raise
        except Exception as error:
            result = failed_result(cell, self.profile, error)
            write_result(results_dir(), result)
            return result


def _start_worker(threads: int, setup: str | None, status: Any = None) -> None:
    """One worker's start: its thread counts, its status queue and the optional setup hook.

    Both torch and the BLAS / OpenMP pools behind numpy, scipy and scikit-learn (all loaded by
    this module's imports) are capped: uncapped, N workers' probes each spin one BLAS thread
    per core and a linear-probe cell takes up to 10x longer.
    """
    torch.set_num_threads(threads)
    threadpool_limits(threads)
    set_status_queue(status)
    if setup:
        module, _, function = setup.partition(":")
        getattr(importlib.import_module(module), function)()
