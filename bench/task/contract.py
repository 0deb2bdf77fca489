"""The task contract: ``Task`` (a labelled view of one dataset with the official folds), its
``Labels`` and ``TaskData``, and the ``TASKS`` registry, imported through ``bench.task``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np

from bench.data.formats.ragged import Ragged
from bench.data.preprocess import Preprocessing
from bench.data.signals import SPLIT_FOLDS, SignalSet, Split
from bench.registry import Registry

TaskKind = Literal["multilabel", "multiclass", "regression", "segmentation"]
METRIC_DIRECTIONS: dict[str, bool] = {  # metric -> higher is better
    "macro_auroc": True, "macro_auprc": True, "macro_f1": True, "accuracy": True,
    "challenge_score": True, "mae": False, "rmse": False, "r2": True, "pearson_r": True,
    "mean_boundary_f1@150": True, "mean_boundary_f1@40": True,
}  # fmt: skip
SEGMENTATION_CLASSES: tuple[str, ...] = ("background", "P", "QRS", "T")
UNSCORED = -1  # segmentation label of a sample outside the lead's annotated range


@dataclass(frozen=True)
class Labels:
    """Targets for the records of a SignalSet; rows with ``keep`` False are dropped.

    By task kind: multi-hot (multilabel), one-hot (multiclass: exactly one class per kept
    record), the continuous targets in their own units (regression; ``names`` the targets), or
    per-sample class masks [N, leads, T] (segmentation: ``names`` the classes, values 0 ..
    C - 1 and ``UNSCORED`` (-1) where a sample is not scored).
    """

    values: np.ndarray  # float32 [N, C] ([N, leads, T] for segmentation)
    names: tuple[str, ...]
    keep: np.ndarray  # bool [N]


@dataclass(frozen=True)
class TaskData:
    """Signals and labels of one task; every array is row-aligned."""

    task: str
    signals: np.ndarray | Ragged  # float32 [N, leads, T], or records of differing lengths
    labels: np.ndarray  # float32 [N, C] ([N, leads, T] class masks for segmentation)
    label_names: tuple[str, ...]
    record_ids: np.ndarray  # int64 [N]
    patient_ids: np.ndarray  # int64 [N]
    folds: np.ndarray  # int64 [N]
    sampling_rate: int
    lead_names: tuple[str, ...]
    fingerprint: str
    fold_spec: Mapping[str, object] = field(default_factory=dict)  # empty: official folds

    @property
    def strata(self) -> np.ndarray:
        """Per-record labels [N, C] that label fractions stratify over: the labels, or one
        all-ones column for per-sample (segmentation) masks, which have no record classes."""
        if self.labels.ndim == 2:
            return self.labels
        return np.ones((len(self.labels), 1), dtype=np.float32)

    def split_indices(self, split: Split) -> np.ndarray:
        """Row indices of ``split`` (train = folds 1-8, val = 9, test = 10)."""
        if split not in SPLIT_FOLDS:
            raise ValueError(f"unknown split {split!r}; use one of {', '.join(SPLIT_FOLDS)}")
        return np.flatnonzero(np.isin(self.folds, SPLIT_FOLDS[split]))


class Task(ABC):
    """A registered downstream task: a dataset plus a label definition.

    Subclasses set ``name``, ``version`` (bump when labels change), ``dataset`` (a name in
    ``bench.data.DATASETS``), ``group`` (the command-line group it expands from) and implement
    ``labels``. ``fractions`` is the task's own label-fraction list for the grid (None: the
    run's, ``bench.evaluation.fractions.DEFAULT_FRACTIONS`` unless ``--fractions`` is given).
    """

    name: str
    version: ClassVar[str] = "1"
    dataset: ClassVar[str]
    group: str
    kind: ClassVar[TaskKind] = "multilabel"
    main_metric: ClassVar[str] = "macro_auroc"
    fractions: ClassVar[tuple[float, ...] | None] = None

    @property
    def higher_is_better(self) -> bool:
        """Direction of ``main_metric`` (leaderboards bold the best in this direction)."""
        return METRIC_DIRECTIONS[self.main_metric]

    def data_sources(self) -> tuple[str, ...]:
        """The datasets (or a union's parts) its records come from, for the leakage audit of
        published checkpoints (``bench.checkpoints.leakage``): its dataset by default."""
        return (self.dataset,)

    @abstractmethod
    def labels(self, data: SignalSet) -> Labels:
        """Targets for every record of ``data`` and which records have any label of the task."""

    def extra_metrics(
        self,
        val: tuple[np.ndarray, np.ndarray],
        test: tuple[np.ndarray, np.ndarray],
        label_names: Sequence[str],
        bootstrap: tuple[np.ndarray, float] | None = None,
    ) -> tuple[dict[str, object], dict[str, list[float]]]:
        """Task-specific metrics beyond its kind's (e.g. the CinC Challenge score) and their CIs.

        ``val`` / ``test`` are (labels, scores); test rows are sorted by record id and
        ``bootstrap`` = (resample indices over those rows, CI level). None by default.
        """
        return {}, {}

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
            fold_spec=data.fold_spec,
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
