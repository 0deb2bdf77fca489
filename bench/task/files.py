"""Task files registered when named: ``bench run --tasks my_task.yaml``, or a task (or group)
name found in a task file on ``$BENCH_TASKS_PATH`` (folders separated by ':', searched for
``*.yaml`` / ``*.yml``, subfolders included), or ``--tasks all``, which registers every file on
the path. A registered file task works as a built-in one (keys, caching, leaderboards); a file
may not take a built-in task's name, and two files may not share one.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from bench.data.loading import DATASETS
from bench.errors import ConfigError
from bench.task.contract import TASKS, Task
from bench.task.spec import read_task_file
from bench.task.view import DatasetView
from bench.task.yaml_task import FileTask, label_digest

TASKS_PATH_ENV = "BENCH_TASKS_PATH"
SUFFIXES = (".yaml", ".yml")


def is_task_file(name: str) -> bool:
    """Whether a ``--tasks`` entry names a task file rather than a task."""
    return name.endswith(SUFFIXES)


def register_task_file(path: str | Path) -> Task:
    """Read, validate and register the task of file ``path`` (once; again for the same file
    returns the same task); ConfigError naming the file when it is missing or invalid."""
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise ConfigError(f"task file {path} does not exist")
    spec = read_task_file(path)
    TASKS.names()  # the built-ins first, so a clash is seen here
    if spec.name in TASKS:
        known = TASKS.get(spec.name)
        if isinstance(known, FileTask) and known.path == path and known.spec == spec:
            return known
        where = f"task file {known.path}" if isinstance(known, FileTask) else "a built-in task"
        raise ConfigError(f"task file {path}: name {spec.name!r} is taken by {where}; rename it")
    dataset = spec.dataset.name
    task = FileTask(spec, path, dataset)
    if spec.dataset.root is not None or spec.dataset.options or spec.folds is not None:
        try:
            view = DatasetView(spec.dataset, spec.folds, task.strata, label_digest(spec))
        except ConfigError as error:
            raise ConfigError(f"task file {path}: {error}") from None
        if view.name not in DATASETS:
            DATASETS.add(view.name, view)
        task.dataset = view.name
    TASKS.add(spec.name, task)
    return task


def register_path_tasks(name: str | None = None) -> list[Task]:
    """Register the task files on ``$BENCH_TASKS_PATH`` whose task or group is ``name`` (every
    one for None); returns them."""
    found = []
    for path in path_task_files():
        if name is None or name in _names(path):
            found.append(register_task_file(path))
    return found


def path_task_files() -> list[Path]:
    """Every task file under the folders of ``$BENCH_TASKS_PATH``, sorted per folder."""
    files = []
    for folder in filter(None, os.environ.get(TASKS_PATH_ENV, "").split(os.pathsep)):
        root = Path(folder).expanduser()
        if not root.is_dir():
            raise ConfigError(f"${TASKS_PATH_ENV}: {root} is not a folder")
        files += sorted(p for p in root.rglob("*") if p.suffix in SUFFIXES and p.is_file())
    return files


def _names(path: Path) -> set[str]:
    """The task and group names a file declares (read without validating the rest)."""
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"task file {path} cannot be read: {error}") from None
    if not isinstance(document, dict):
        return set()
    return {str(document[key]) for key in ("name", "group") if document.get(key) is not None}
