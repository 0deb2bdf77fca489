"""Refuse, at planning, a task with no records in a fold: a task without training, validation
or test records cannot be evaluated, and its cells would otherwise fail deep inside (an empty
test fold crashed the probe cache). The message names the task, the empty fold(s), the records
per fold and, where the dataset has sources, which source the task expects and what it holds."""

from __future__ import annotations

from collections import Counter

import numpy as np

from bench.data.signals import SPLIT_FOLDS, SignalSet
from bench.task import Task

FOLD_NAMES: dict[str, str] = {"train": "training", "val": "validation", "test": "test"}


def fold_counts(task: Task, data: SignalSet) -> dict[str, int]:
    """Records of ``task`` (those with a label of it) in each split of ``data``."""
    labels = task.labels(data)
    folds = data.meta["fold"].to_numpy()[np.asarray(labels.keep, dtype=bool)]
    return {split: int(np.isin(folds, members).sum()) for split, members in SPLIT_FOLDS.items()}


def empty_fold_problem(task: Task, data: SignalSet) -> str | None:
    """Why ``task`` cannot run on ``data`` (an empty fold), or None when every fold has records."""
    counts = fold_counts(task, data)
    empty = [FOLD_NAMES[split] for split, count in counts.items() if count == 0]
    if not empty:
        return None
    per_fold = ", ".join(f"{FOLD_NAMES[split]} {count}" for split, count in counts.items())
    lines = [
        f"task {task.name}: no records in its {' and '.join(empty)} fold"
        f"{'s' if len(empty) > 1 else ''} (records with a label of the task: {per_fold}; "
        f"{len(data.meta)} records in {data.name})"
    ]
    expected = [name for name in task.data_sources() if name != data.name]
    if expected and "source" in data.meta.columns:
        found = Counter(data.meta["source"].astype(str))
        held = ", ".join(f"{source} {count}" for source, count in sorted(found.items()))
        lines.append(
            f"  it expects records of source {', '.join(expected)}; {data.name} holds: {held}"
        )
    return "\n".join(lines)
