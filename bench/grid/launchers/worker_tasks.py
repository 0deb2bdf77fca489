"""What a worker runs (a Ray task or a local pool process): prepare a unit (pretrain, embed) or
run one cell and write its result.

Tasks receive plain data only (the run config as a dict, the cell's identity, the driver's
paths), rebuild a Workspace of their own (memoised per grid run in the worker process) and
re-plan what they run; a key that differs from the driver's is an error, never a silent
mismatch. Results go to the result files (atomically, as in-process); MLflow is left to the
driver. These functions need no Ray themselves, so they run the same in a plain process.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.config import from_dict, to_dict
from bench.data.loading import DATASETS
from bench.errors import BenchError, DiskFullError
from bench.grid.plan import Cell, RunConfig, eval_key
from bench.grid.profiles import builtin_profiles
from bench.grid.results import CellResult, describe_failure, write_result
from bench.grid.runner import failed_result, run_and_record, workspace_for
from bench.grid.unit import Unit
from bench.grid.workspace import Workspace
from bench.method import Protocol
from bench.paths import CACHE_ENV, RESULTS_ENV, cache_dir, dataset_root_env, results_dir
from bench.task import TASKS
from bench.task.files import TASKS_PATH_ENV, is_task_file
from bench.training.run_files import CHECKPOINT_NAME


class WorkerMismatchError(BenchError):
    """A worker planned a different unit or cell than the driver (other code, data or config)."""


class UnitFailedError(BenchError):
    """The pretraining (or embedding) a cell needs failed in its unit's task."""


@dataclass(frozen=True)
class RunContext:
    """What every task of one grid run shares: the run config and the driver's environment."""

    run_id: str
    config: dict[str, Any]  # bench.config.to_dict(RunConfig), data roots absolute
    env: dict[str, str]  # BENCH_RESULTS, BENCH_CACHE_DIR, dataset root variables


@dataclass(frozen=True)
class UnitJob:
    """One encoder to get ready: pretrain (or init) it, and embed its dataset if ``embed``."""

    method: str
    dataset: str
    seed: int
    key: str  # the unit key the driver planned
    embed: bool
    pretrain_seed: int | None = None  # the unit's seed (bench.grid.unit.Unit.seed)
    corpus_records: int | None = None  # the unit's corpus subset size (None: all of it)


@dataclass(frozen=True)
class UnitOutcome:
    """How a unit's task ended; ``error``/``traceback`` are set when it failed."""

    key: str
    seconds: float
    host: str
    error: str | None = None
    traceback: str | None = None


@dataclass(frozen=True)
class CellIdentity:
    """A cell as plain data, with the eval key the driver planned for it."""

    method: str
    task: str
    protocol: Protocol
    fraction: float
    seed: int
    eval_key: str
    pretrain_seed: int | None = None  # the unit's seed (bench.grid.unit.Unit.seed)
    corpus_records: int | None = None  # the unit's corpus subset size (None: all of it)
    shots: int | None = None  # a few-shot cell's K

    @classmethod
    def of(cls, cell: Cell) -> CellIdentity:
        """The identity of a planned cell."""
        return cls(
            cell.unit.method,
            cell.task.name,
            cell.protocol,
            cell.fraction,
            cell.seed,
            cell.eval_key,
            cell.unit.seed,
            cell.unit.corpus_records,
            cell.shots,
        )


_WORKSPACES: dict[str, Workspace] = {}


def prepare_unit(context: RunContext, job: UnitJob) -> UnitOutcome:
    """Pretrain (resuming, or loading a finished run) and embed one unit; never raises for a
    failure of the work itself, which is returned for the unit's cells to record."""
    started = time.perf_counter()
    with driver_environment(context.env):
        workspace = _workspace(context)
        unit = _plan_unit(job.method, job.dataset, workspace, job.pretrain_seed, job.corpus_records)
        _check_key("unit", f"{job.method} on {job.dataset}", unit.key, job.key)
        try:
            workspace.encoder(unit, job.seed)
            if job.embed:
                workspace.embeddings(unit, job.seed)
        except DiskFullError:
            raise
        except Exception as error:
            message, trace = describe_failure(error)
            return UnitOutcome(job.key, _since(started), socket.gethostname(), message, trace)
    return UnitOutcome(job.key, _since(started), socket.gethostname())


def run_cell_task(
    context: RunContext, identity: CellIdentity, unit: UnitOutcome | None
) -> CellResult:
    """Re-plan the cell, check its key, run it and write its result file; returns the result.

    ``unit`` is the outcome of the task that prepared the cell's encoder (None when the cell
    needs none): when that failed, the cell is recorded as failed with the unit's error.
    """
    with driver_environment(context.env):
        workspace = _workspace(context)
        cell = plan_cell(identity, workspace)
        if unit is not None and unit.error is not None:
            result = dataclasses.replace(
                failed_result(cell, workspace.profile, UnitFailedError(unit.error)),
                traceback=unit.traceback,
            )
            write_result(results_dir(), result)
            return result
        if unit is not None and cell.unit.plan is not None:
            _check_pretraining_visible(cell.unit)
        return run_and_record(cell, workspace)


def plan_cell(identity: CellIdentity, workspace: Workspace) -> Cell:
    """The cell ``identity`` names, planned here; WorkerMismatchError if its key differs."""
    task = TASKS.get(identity.task)
    unit = _plan_unit(
        identity.method, task.dataset, workspace, identity.pretrain_seed, identity.corpus_records
    )
    data = workspace.unit_data(unit)
    key = eval_key(
        unit, task, identity.protocol, identity.fraction, identity.seed, workspace.profile, data,
        identity.shots,
    )  # fmt: skip
    cell = Cell(
        unit, task, identity.protocol, identity.fraction, identity.seed, key, identity.shots
    )
    described = (
        f"{identity.method} / {identity.task} / {identity.protocol} / "
        f"{cell.budget_text} / seed {identity.seed}"
    )
    _check_key("cell", described, key, identity.eval_key)
    return cell


@contextmanager
def driver_environment(env: dict[str, str]) -> Iterator[None]:
    """Set the driver's path variables for the duration of a task, then restore them."""
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _workspace(context: RunContext) -> Workspace:
    """This process's workspace of the run (datasets, encoders and embeddings loaded once)."""
    if context.run_id not in _WORKSPACES:
        _WORKSPACES.clear()  # a new grid run: forget the last one (and its failures)
        config = from_dict(RunConfig, context.config, where="run config from the driver")
        _WORKSPACES[context.run_id] = workspace_for(config, progress=False)
    return _WORKSPACES[context.run_id]


def _plan_unit(
    method: str, dataset: str, workspace: Workspace, seed: int | None, records: int | None = None
) -> Unit:
    return workspace.plan_unit(method, dataset, seed, "all" if records is None else records)


def _check_key(kind: str, described: str, planned_here: str, planned_by_driver: str) -> None:
    if planned_here != planned_by_driver:
        raise WorkerMismatchError(
            f"{kind} {described}: worker {socket.gethostname()} planned key {planned_here}, "
            f"the driver {planned_by_driver}; every node needs the same code, plugins, "
            "profile and data as the driver"
        )


def _check_pretraining_visible(unit: Unit) -> None:
    """A prepared pretraining must be on disk here, else this worker would train it again."""
    assert unit.plan is not None
    checkpoint = unit.plan.run_dir / CHECKPOINT_NAME
    if not checkpoint.is_file():
        raise BenchError(
            f"pretraining {unit.method}-{unit.key} finished on another node, but "
            f"{checkpoint} is missing on {socket.gethostname()}: the results folder "
            "(and cache) must be on a filesystem every Ray node shares"
        )


def _since(started: float) -> float:
    return time.perf_counter() - started


def run_context(config: RunConfig) -> RunContext:
    """The run as plain data for the workers, paths made absolute (the same on every node)."""
    roots = {name: _absolute(root) for name, root in config.data_roots.items()}
    profile = config.profile
    if profile not in builtin_profiles():  # a YAML file: its name (the stem) is kept
        profile = _absolute(profile)
    env = {RESULTS_ENV: _absolute(results_dir()), CACHE_ENV: _absolute(cache_dir())}
    for dataset in DATASETS.names():
        variable = dataset_root_env(dataset)
        if os.environ.get(variable):
            env[variable] = _absolute(os.environ[variable])
    if os.environ.get(TASKS_PATH_ENV):  # task files found by name (bench.task.files)
        folders = os.environ[TASKS_PATH_ENV].split(os.pathsep)
        env[TASKS_PATH_ENV] = os.pathsep.join(_absolute(f) for f in folders if f)
    tasks = tuple(_absolute(t) if is_task_file(t) else t for t in config.tasks)
    plain = to_dict(dataclasses.replace(config, profile=profile, data_roots=roots, tasks=tasks))
    return RunContext(uuid.uuid4().hex, plain, env)


def unit_jobs(todo: list[Cell]) -> dict[str, UnitJob]:
    """The unit tasks pending cells need, by encoder key: every pretraining, and a baseline's
    seeded init (one per pretraining seed, shared by the fraction seeds) where linear or k-NN
    cells need its embeddings."""
    jobs: dict[str, UnitJob] = {}
    for cell in todo:
        linear = cell.protocol in ("linear", "knn")  # the cells that read the embeddings
        if not (cell.unit.needs_pretraining or linear):
            continue
        key = Workspace.encoder_key(cell.unit, cell.seed)
        embed = linear or (key in jobs and jobs[key].embed)
        unit = cell.unit
        seed = unit.seed if unit.seed is not None else cell.seed  # what seeds the encoder
        jobs[key] = UnitJob(
            unit.method, unit.dataset, seed, unit.key, embed, unit.seed, unit.corpus_records
        )
    return jobs


def _absolute(path: str | Path) -> str:
    return str(Path(path).expanduser().resolve())
