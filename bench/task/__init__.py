"""Task plugin contract: a labelled view of one dataset with the official folds.

Built-in tasks live in the ``tasks`` package (and third-party packages' entry points); a task on
your own labelled data can be a YAML file instead (``bench.task.spec``, registered when named by
``expand_tasks``, see ``bench.task.files``). The contract itself is defined in
``bench.task.contract``; plugins import it from here.
"""

from __future__ import annotations

from bench.task.contract import (
    METRIC_DIRECTIONS,
    SEGMENTATION_CLASSES,
    TASKS,
    UNSCORED,
    Labels,
    Task,
    TaskData,
    TaskKind,
    register_task,
    task_groups,
)

__all__ = [
    "METRIC_DIRECTIONS",
    "SEGMENTATION_CLASSES",
    "TASKS",
    "UNSCORED",
    "Labels",
    "Task",
    "TaskData",
    "TaskKind",
    "expand_tasks",
    "register_task",
    "task_groups",
]


def expand_tasks(names: list[str]) -> list[str]:
    """Expand groups and 'all' into task names, keeping order and dropping repeats.

    Task files are registered when named (``bench.task.files``): an entry ending in .yaml /
    .yml is a task file; a name no registered task or group has is looked up in the task
    files on ``$BENCH_TASKS_PATH``; 'all' registers every file there too.
    """
    from bench.task.files import is_task_file, register_path_tasks, register_task_file

    expanded: list[str] = []
    for name in names:
        if is_task_file(name):
            members = [register_task_file(name).name]
        elif name == "all":
            register_path_tasks()
            members = TASKS.names()
        else:
            if name not in TASKS:  # a group, or a name only a task file may have
                register_path_tasks(name)
            groups = task_groups()
            if name in groups and name not in TASKS:
                members = groups[name]
            else:
                TASKS.get(name)
                members = [name]
        expanded.extend(m for m in members if m not in expanded)
    return expanded
