"""Task plugin contract: a labelled view of one dataset with the official folds."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np

from bench.data.preprocess import Preprocessing
from bench.data.signals import SPLIT_FOLDS, SignalSet, Split
from bench.registry import Registry


@dataclass(frozen=True)
class Labels:
    """Multi-hot targets for the records of a SignalSet; rows with ``keep`` False are dropped."""

    values: np.ndarray  # float32 [N, C] in {0, 1}
    names: tuple[str, ...]
    keep: np.ndarray  # bool [N]


@dataclass(frozen=True)
class TaskData:
    """Signals and labels of one task; every array is row-aligned."""

    task: str
    signals: np.ndarray  # float32 [N, leads, T]
    labels: np.ndarray  # float32 [N, C]
    label_names: tuple[str, ...]
    record_ids: np.ndarray  # int64 [N]
    patient_ids: np.ndarray  # int64 [N]
    folds: np.ndarray  # int64 [N]
    sampling_rate: int
    lead_names: tuple[str, ...]
    fingerprint: str

    def split_indices(self, split: Split) -> np.ndarray:
        """Row indices of ``split`` (train = folds 1-8, val = 9, test = 10)."""
        if split not in SPLIT_FOLDS:
            raise ValueError(f"unknown split {split!r}; use one of {', '.join(SPLIT_FOLDS)}")
        return np.flatnonzero(np.isin(self.folds, SPLIT_FOLDS[split]))


class Task(ABC):
    """A registered downstream task: a dataset plus a label definition.

    Subclasses set ``name``, ``version`` (bump when labels change), ``dataset`` (a name in
    ``bench.data.DATASETS``), ``group`` (the command-line group it expands from) and implement
    ``labels``.
    """

    name: str
    version: ClassVar[str] = "1"
    dataset: ClassVar[str]
    group: str
    kind: ClassVar[Literal["multilabel"]] = "multilabel"
    main_metric: ClassVar[str] = "macro_auroc"

    @abstractmethod
    def labels(self, data: SignalSet) -> Labels:
        """Targets for every record of ``data`` and which records have any label of the task."""

    def load(
        self, root: Path | None = None, preprocessing: Preprocessing | None = None
    ) -> TaskData:
        """Load the dataset (from its cache), preprocess it and attach this task's labels."""
        from bench.data.loading import load_dataset

        data = load_dataset(self.dataset, root, preprocessing or Preprocessing())
        return self.attach(data)

    def attach(self, data: SignalSet) -> TaskData:
        """This task's view of an already loaded SignalSet (records without labels dropped)."""
        labels = self.labels(data)
        rows = np.flatnonzero(labels.keep)
        meta = data.meta.iloc[rows]
        return TaskData(
            task=self.name,
            signals=data.signals[rows] if len(rows) < len(data.signals) else data.signals,
            labels=labels.values[rows].astype(np.float32),
            label_names=labels.names,
            record_ids=meta["record_id"].to_numpy(np.int64),
            patient_ids=meta["patient_id"].to_numpy(np.int64),
            folds=meta["fold"].to_numpy(np.int64),
            sampling_rate=data.sampling_rate,
            lead_names=data.lead_names,
            fingerprint=data.fingerprint,
        )


TASKS: Registry[Task] = Registry("task", package="tasks", entry_point_group="bench.tasks")


def register_task(task: Task) -> Task:
    """Register a task instance under its ``name``."""
    TASKS.add(task.name, task)
    return task


def task_groups() -> dict[str, list[str]]:
    """Group name -> task names sorted (e.g. 'ptbxl' -> its six label sets)."""
    groups: dict[str, list[str]] = {}
    for name, task in TASKS.items():
        groups.setdefault(task.group, []).append(name)
    return groups


def expand_tasks(names: list[str]) -> list[str]:
    """Expand groups and 'all' into task names, keeping order and dropping repeats."""
    groups = task_groups()
    expanded: list[str] = []
    for name in names:
        if name == "all":
            members = TASKS.names()
        elif name in groups and name not in TASKS:
            members = groups[name]
        else:
            TASKS.get(name)
            members = [name]
        expanded.extend(m for m in members if m not in expanded)
    return expanded
