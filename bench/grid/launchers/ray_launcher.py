"""``bench run --launcher ray``: the grid's cells as Ray tasks, each pretraining before its cells.

How a run goes:
- The driver plans the grid (loading every dataset once, which also prepares its cache) and
  skips finished cells exactly as in-process.
- One Ray task per encoder that pending cells need ready ("unit task"): each pending pretraining
  (trained, resumed, or loaded when it had finished) and, when linear or k-NN cells need them,
  the frozen embeddings of its dataset, computed once there and cached on disk; a baseline's seeded
  init gets one only for its embeddings. With GPUs in the cluster a unit task takes one GPU.
- One Ray task per pending cell, submitted with its unit task's outcome once that unit is
  ready; fine-tuning and attentive-probe cells take a GPU where there are GPUs, linear and
  k-NN cells (cached embeddings + a CPU probe or vote) none. Baseline cells without a unit
  task start at once.
- The driver claims each unit and cell as it submits it and keeps at most one task per
  cluster CPU in flight, so other runners on the same results folder share the work
  (``driver_queue``).
- Workers rebuild their own Workspace from the run config, re-plan their cell and check its key
  against the driver's; they write the result files (atomically, as in-process) and never touch
  MLflow. The driver counts each result as it returns, logs it to MLflow (``on_result``) and
  shows one progress bar. Ctrl-C cancels the outstanding tasks; finished cells are on disk.

Requirements on a cluster: the results folder and the cache ($BENCH_RESULTS, $BENCH_CACHE_DIR)
and the data roots at the same paths on every node (a shared filesystem), and the same code and
plugins installed everywhere (a differing key fails the cell with a clear error).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from tqdm.auto import tqdm

from bench.errors import BenchError, DiskFullError
from bench.grid.launchers.driver_queue import DriverQueue
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
from bench.grid.runner import (
    CellCallback,
    GridSummary,
    cells_to_run,
    describe_cell,
    failed_result,
)
from bench.grid.workspace import Workspace
from bench.paths import results_dir

log = logging.getLogger(__name__)

RAY_MISSING = (
    "the ray launcher needs Ray, which is not installed: "
    "pip install 'ecg-ssl-bench[ray]' (or pip install 'ray[default]')"
)
CANCEL_GRACE_S = 15.0  # how long cancelled tasks get to stop (a pretraining saves its state)


def import_ray() -> ModuleType:
    """The ``ray`` module, or a BenchError saying how to install it."""
    try:
        import ray
    except ImportError as error:
        raise BenchError(RAY_MISSING) from error
    return ray


@contextmanager
def ray_session(address: str | None = None) -> Iterator[ModuleType]:
    """Ray, connected: reuses an initialised session, else joins ``address`` (a cluster
    started with ``ray start --head``) or starts a local instance on this machine's cores;
    shuts down only what it started."""
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    quiet: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
    try:
        if address:
            ray.init(address=address, **quiet)
        else:
            ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as error:
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        raise BenchError(f"cannot start or reach {where}: {error}") from error
    try:
        yield ray
    finally:
        ray.shutdown()


def run_grid_on_ray(
    cells: list[Cell],
    config: RunConfig,
    workspace: Workspace,
    overwrite: bool = False,
    on_result: CellCallback | None = None,
    address: str | None = None,
) -> GridSummary:
    """Run the cells not done yet (all with ``overwrite``) as Ray tasks; see the module doc.

    ``cells`` and ``workspace`` are the driver's plan (``bench.grid.runner.plan_grid``); the summary
    is the in-process runner's. A grid with nothing to do never starts Ray.
    """
    started = time.perf_counter()
    todo = cells_to_run(cells, overwrite)
    summary = GridSummary(skipped=len(cells) - len(todo))
    if todo:
        with ray_session(address) as ray, Holder(results_dir()) as holder:
            queue = DriverQueue(todo, holder)
            grid = _RayGrid(ray, run_context(config), workspace.profile)
            grid.run(queue, summary, on_result, workspace.progress)
            summary.elsewhere = queue.elsewhere
    summary.seconds = time.perf_counter() - started
    return summary


class _RayGrid:
    """The driver's side of one run: tasks in flight, and their results as they come back."""

    def __init__(self, ray: ModuleType, context: RunContext, profile: Profile):
        self.ray = ray
        self.context = context
        self.profile = profile
        self.units: dict[Any, tuple[str, UnitJob]] = {}  # ObjectRef -> (encoder key, job)
        self.cells: dict[Any, Cell] = {}  # ObjectRef -> cell
        resources = ray.cluster_resources()
        self.slots = max(1, int(resources.get("CPU", 1)))
        self.gpu = {"num_gpus": 1} if resources.get("GPU", 0) >= 1 else {}
        self.prepare = ray.remote(prepare_unit)
        self.run_cell = ray.remote(run_cell_task)

    def run(
        self,
        queue: DriverQueue,
        summary: GridSummary,
        on_result: CellCallback | None,
        progress: bool,
    ) -> None:
        """Hand out claimed work (at most a task per CPU in flight), count and report each
        result as it returns; Ctrl-C cancels what is outstanding."""
        total = queue.claims.left + sum(len(c) for c in queue.waiting.values())
        bar = tqdm(total=total, desc="grid", unit="cell", disable=not progress)
        try:
            while not queue.finished or self.units or self.cells:
                self._fill(queue)
                if not (self.units or self.cells):
                    time.sleep(POLL_S)  # everything left is held by another runner
                    continue
                timeout = None if queue.finished else POLL_S
                ready, _ = self.ray.wait([*self.units, *self.cells], num_returns=1, timeout=timeout)
                for ref in ready:
                    if ref in self.units:
                        self._unit_done(queue, ref)
                        continue
                    cell = self.cells.pop(ref)
                    try:
                        result = self._result(ref, cell)
                    finally:
                        queue.cell_done(cell)
                    summary.add(cell, result)
                    if on_result is not None:
                        on_result(cell, result)
                    bar.set_postfix_str(describe_cell(cell))
                    bar.update()
        except BaseException:  # Ctrl-C (or a bug here): leave nothing running on the cluster
            self._cancel()
            raise
        finally:
            bar.close()

    def _fill(self, queue: DriverQueue) -> None:
        """Submit claimed unit jobs, then ready cells, until every slot is busy."""
        while len(self.units) + len(self.cells) < self.slots:
            job = queue.next_job()
            if job is not None:
                ref = self.prepare.options(num_cpus=1, **self.gpu).remote(self.context, job[1])
                self.units[ref] = job
                continue
            ready = queue.next_cell()
            if ready is None:
                return
            cell, unit = ready
            needs = self.gpu if cell.protocol in ("finetune", "attentive") else {}
            ref = self.run_cell.options(num_cpus=1, **needs).remote(
                self.context, CellIdentity.of(cell), unit
            )
            self.cells[ref] = cell

    def _cancel(self) -> None:
        """Cancel every outstanding task (a running one gets KeyboardInterrupt, so a pretraining
        saves its checkpoint) and give them a few seconds to stop."""
        outstanding = [*self.cells, *self.units]
        if not outstanding:
            return
        for ref in outstanding:
            self.ray.cancel(ref)
        log.warning("cancelled %d outstanding cells; finished ones are saved", len(self.cells))
        self.ray.wait(outstanding, num_returns=len(outstanding), timeout=CANCEL_GRACE_S)

    def _unit_done(self, queue: DriverQueue, ref: Any) -> None:
        key, job = self.units.pop(ref)
        try:
            outcome: UnitOutcome = self.ray.get(ref)
        except Exception as error:  # its cells report the cause
            cause = _cause(error)
            if isinstance(cause, DiskFullError):
                raise cause from None
            log.error("unit %s: task failed: %s", key, cause)
            message, trace = describe_failure(cause)
            outcome = UnitOutcome(key, 0.0, "ray", message, trace)
        if outcome.error is not None:
            log.error("unit %s failed on %s: %s", key, outcome.host, outcome.error)
        else:
            log.info("unit %s ready on %s in %.1f s", key, outcome.host, outcome.seconds)
        queue.job_done(key, job, outcome)

    def _result(self, ref: Any, cell: Cell) -> CellResult:
        """The worker's result; when the task itself failed (a crash, a key mismatch) the driver
        records the failure in the cell's result file (a full disk stops the run instead)."""
        try:
            return self.ray.get(ref)
        except Exception as error:
            cause = _cause(error)
            if isinstance(cause, DiskFullError):
                raise cause from None
            result = failed_result(cell, self.profile, cause)
            write_result(results_dir(), result)
            return result


def _cause(error: Exception) -> BaseException:
    """The worker's exception inside a RayTaskError (itself for other errors)."""
    cause = getattr(error, "cause", None)
    return cause if isinstance(cause, BaseException) else error
