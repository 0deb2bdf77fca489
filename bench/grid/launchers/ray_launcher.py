"""``bench run --launcher ray``: the grid's cells as Ray tasks, each pretraining before its cells.

How a run goes:
- The driver plans the grid (loading every dataset once, which also prepares its cache) and
  skips finished cells exactly as in-process.
- One Ray task per encoder that pending cells need ready ("unit task"): each pending pretraining
  (trained, resumed, or loaded when it had finished) and, when linear cells need them, the
  frozen embeddings of its dataset, computed once there and cached on disk; a baseline's seeded
  init gets one only for its embeddings. With GPUs in the cluster a unit task takes one GPU.
- One Ray task per pending cell, taking its unit task's outcome as an argument, so Ray starts it
  only after that unit is ready; fine-tuning cells take a GPU where there are GPUs, linear cells
  (cached embeddings + a CPU probe) none. Baseline cells without a unit task start at once.
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

from bench.errors import BenchError
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
from bench.grid.results import CellResult, write_result
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
        with ray_session(address) as ray:
            grid = _RayGrid(ray, run_context(config), workspace.profile)
            grid.submit(todo)
            grid.collect(summary, on_result, workspace.progress)
    summary.seconds = time.perf_counter() - started
    return summary


class _RayGrid:
    """The driver's side of one run: submitted tasks, and their results as they come back."""

    def __init__(self, ray: ModuleType, context: RunContext, profile: Profile):
        self.ray = ray
        self.context = context
        self.profile = profile
        self.units: dict[Any, str] = {}  # ObjectRef -> encoder key
        self.cells: dict[Any, Cell] = {}  # ObjectRef -> cell

    def submit(self, todo: list[Cell]) -> None:
        """Every unit task first, then every cell task after its unit's."""
        gpu = {"num_gpus": 1} if self.ray.cluster_resources().get("GPU", 0) >= 1 else {}
        prepare = self.ray.remote(prepare_unit)
        run_cell = self.ray.remote(run_cell_task)
        refs = {}
        for key, job in unit_jobs(todo).items():
            refs[key] = prepare.options(num_cpus=1, **gpu).remote(self.context, job)
            self.units[refs[key]] = key
        for cell in todo:
            unit_ref = refs.get(Workspace.encoder_key(cell.unit, cell.seed))
            needs = gpu if cell.protocol == "finetune" else {}
            ref = run_cell.options(num_cpus=1, **needs).remote(
                self.context, CellIdentity.of(cell), unit_ref
            )
            self.cells[ref] = cell
        log.info("ray: %d unit tasks, %d cell tasks submitted", len(self.units), len(self.cells))

    def collect(self, summary: GridSummary, on_result: CellCallback | None, progress: bool) -> None:
        """Count and report each result as it returns; Ctrl-C cancels what is outstanding."""
        bar = tqdm(total=len(self.cells), desc="grid", unit="cell", disable=not progress)
        try:
            while self.cells or self.units:
                [ref], _ = self.ray.wait([*self.units, *self.cells], num_returns=1)
                if ref in self.units:
                    self._unit_done(ref)
                    continue
                cell = self.cells.pop(ref)
                result = self._result(ref, cell)
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

    def _unit_done(self, ref: Any) -> None:
        key = self.units.pop(ref)
        try:
            outcome: UnitOutcome = self.ray.get(ref)
        except Exception as error:  # its cells report the cause
            log.error("unit %s: task failed: %s", key, _cause(error))
            return
        if outcome.error is not None:
            log.error("unit %s failed on %s: %s", key, outcome.host, outcome.error)
        else:
            log.info("unit %s ready on %s in %.1f s", key, outcome.host, outcome.seconds)

    def _result(self, ref: Any, cell: Cell) -> CellResult:
        """The worker's result; when the task itself failed (a crash, a key mismatch) the driver
        records the failure in the cell's result file."""
        try:
            return self.ray.get(ref)
        except Exception as error:
            result = failed_result(cell, self.profile, _cause(error))
            write_result(results_dir(), result)
            return result


def _cause(error: Exception) -> BaseException:
    """The worker's exception inside a RayTaskError (itself for other errors)."""
    cause = getattr(error, "cause", None)
    return cause if isinstance(cause, BaseException) else error
