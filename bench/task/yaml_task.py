"""A task built from a task file (``bench.task.spec``): labels from metadata columns.

Its ``version`` is a digest of everything in the file that defines its labels, folds or data
(not its name, group, fractions or description), so editing the file gives new cell keys and
an unchanged file reuses finished cells; the data's own fingerprint covers the records and a
labels CSV. Where the file gives the dataset's root or options, or asks for seeded folds, the
task reads a view of the dataset (``bench.task.view``) registered under its own name.
"""

from __future__ import annotations

from pathlib import Path

from bench.config import to_dict
from bench.data.signals import SignalSet
from bench.errors import DataError
from bench.hashing import stable_hash
from bench.task.columns import check_columns, class_labels, record_classes, target_labels
from bench.task.contract import Labels, Task
from bench.task.spec import TaskSpec

TASK_FILE_VERSION = 1  # bump when a file's labels would be read differently


class FileTask(Task):
    """The task a task file defines."""

    def __init__(self, spec: TaskSpec, path: Path, dataset: str) -> None:
        self.spec = spec
        self.path = path
        self.name = spec.name
        self.group = spec.group or spec.name
        self.dataset = dataset
        self.kind = spec.kind  # type: ignore[misc]
        self.main_metric = spec.metric  # type: ignore[misc]
        self.fractions = spec.fractions  # type: ignore[misc]
        self.version = f"file-{label_digest(spec)[:12]}"  # type: ignore[misc]

    def data_sources(self) -> tuple[str, ...]:
        """The dataset the file names (a view's records are its records)."""
        return (self.spec.dataset.name,)

    def labels(self, data: SignalSet) -> Labels:
        """The labels of every record from the file's columns (rules in bench.task.spec)."""
        where = f"task {self.name} ({self.path})"
        columns = self.spec.label_columns
        check_columns(data.meta, columns, where)
        if self.kind == "regression":
            labels, unreadable = target_labels(data.meta, columns)
            if unreadable:
                raise DataError(
                    f"{where}: regression targets must be numbers; column(s) {unreadable} hold "
                    "other values"
                )
        else:
            labels = class_labels(
                record_classes(data.meta, columns), self.spec.classes, self.kind == "multiclass"
            )
        if not labels.keep.any():
            among = f" among the classes {list(self.spec.classes)}" if self.spec.classes else ""
            raise DataError(
                f"{where}: no record of {data.name} has a {self.kind} label in "
                f"{list(columns)}{among}"
            )
        return labels

    def strata(self, data: SignalSet) -> list[tuple[str, ...]]:
        """Each record's classes, for drawing seeded folds (none for a regression task)."""
        if self.kind == "regression":
            return [() for _ in range(len(data.meta))]
        check_columns(data.meta, self.spec.label_columns, f"task {self.name} ({self.path})")
        return record_classes(data.meta, self.spec.label_columns)


def label_digest(spec: TaskSpec) -> str:
    """Digest of what defines a file task's labels, folds and data."""
    document = to_dict(spec)
    for key in ("name", "group", "fractions", "description"):
        document.pop(key)
    document["dataset"].pop("root")
    return stable_hash({"task_file": TASK_FILE_VERSION, **document})
