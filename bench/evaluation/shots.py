"""Few-shot subsets: K labelled records per class, drawn greedily by patient, nested in K.

For one (labels, patient ids, seed) the patients are put in a single greedy order: at each step
the class with the fewest positive records drawn so far (among the classes that still have an
undrawn positive patient; ties: the rarest class, then a seeded random pick) gets a random
undrawn patient holding a positive of it, with all of that patient's records. The K-shot subset
is the shortest prefix of that order in which every class has at least K positive records (or
all of its positives, for a class with fewer): so a multi-label draw stops once every class has
K positives, a patient is never split, and the K-shot subset lies inside every larger K's, for
a fixed seed. Validation subsets are drawn from the validation fold by the same rule and seed,
so a 1-shot cell never selects on the whole validation fold. Classes are the columns of the
labels: few-shot applies to the multilabel and multiclass task kinds.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bench.config import check_range
from bench.errors import ConfigError, DataError

if TYPE_CHECKING:
    from bench.task import TaskData

SHOT_KINDS = ("multilabel", "multiclass")  # the task kinds with classes to draw shots of
_CACHE_SIZE = 32


@dataclass(frozen=True)
class ShotOrdering:
    """The greedy patient order: ``patient_of_row`` maps rows to patients, ``order`` lists
    patients, ``drawn[i]`` is each class's positive records among ``order[: i + 1]`` [P, C]
    and ``available`` each class's positive records among all rows [C]."""

    patient_of_row: np.ndarray
    order: np.ndarray
    drawn: np.ndarray
    available: np.ndarray


_ORDERINGS: OrderedDict[tuple, ShotOrdering] = OrderedDict()


def shot_subset(labels: np.ndarray, patient_ids: np.ndarray, shots: int, seed: int) -> np.ndarray:
    """Sorted row indices of the ``shots``-shot subset of these rows for ``seed``: at least
    ``shots`` positive records of every class (all of a rarer class's), whole patients."""
    check_range("shots", shots, 1)
    ordering = shot_ordering(labels, patient_ids, seed)
    wanted = np.minimum(shots, ordering.available)
    reached = (ordering.drawn >= wanted).all(axis=1)
    n_patients = int(np.argmax(reached)) + 1 if reached.any() else len(ordering.order)
    chosen = np.zeros(len(ordering.order), dtype=bool)
    chosen[ordering.order[:n_patients]] = True
    return np.flatnonzero(chosen[ordering.patient_of_row])


def shot_ordering(labels: np.ndarray, patient_ids: np.ndarray, seed: int) -> ShotOrdering:
    """The seeded greedy order behind every K (cached per content and seed)."""
    positives = np.ascontiguousarray(np.asarray(labels) > 0.5)
    patient_ids = np.ascontiguousarray(np.asarray(patient_ids, dtype=np.int64))
    if positives.ndim != 2 or patient_ids.shape != (len(positives),) or not len(positives):
        raise DataError(
            f"few-shot draws need labels [N, C] and N patient ids; got {positives.shape} labels "
            f"and {patient_ids.shape} ids"
        )
    check_range("seed", seed, 0)
    digest = hashlib.sha256(positives.tobytes() + patient_ids.tobytes()).hexdigest()
    key = (digest, positives.shape, int(seed))
    if key not in _ORDERINGS:
        _ORDERINGS[key] = _greedy_order(positives, patient_ids, np.random.default_rng(int(seed)))
        if len(_ORDERINGS) > _CACHE_SIZE:
            _ORDERINGS.popitem(last=False)
    _ORDERINGS.move_to_end(key)
    return _ORDERINGS[key]


def _greedy_order(
    positives: np.ndarray, patient_ids: np.ndarray, rng: np.random.Generator
) -> ShotOrdering:
    patients, patient_of_row = np.unique(patient_ids, return_inverse=True)
    counts = np.zeros((len(patients), positives.shape[1]), dtype=np.int64)
    np.add.at(counts, patient_of_row, positives)
    has = counts > 0
    candidates = [list(rng.permutation(np.flatnonzero(has[:, c]))) for c in range(has.shape[1])]
    rarity = has.sum(axis=0)
    tie_break = rng.random(has.shape[1])
    taken = np.zeros(len(patients), dtype=bool)
    drawn = np.zeros(positives.shape[1], dtype=np.int64)
    order: list[int] = []
    history: list[np.ndarray] = []
    while True:
        for pool in candidates:
            while pool and taken[pool[-1]]:
                pool.pop()
        open_classes = [c for c, pool in enumerate(candidates) if pool]
        if not open_classes:
            break
        neediest = min(open_classes, key=lambda c: (drawn[c], rarity[c], tie_break[c]))
        patient = int(candidates[neediest].pop())
        taken[patient] = True
        drawn += counts[patient]
        order.append(patient)
        history.append(drawn.copy())
    rest = np.flatnonzero(~taken)  # patients without any positive: after every class's
    order += rest[rng.permutation(len(rest))].tolist()
    history += [drawn.copy()] * len(rest)
    return ShotOrdering(
        patient_of_row=patient_of_row,
        order=np.asarray(order, dtype=np.int64),
        drawn=np.asarray(history, dtype=np.int64).reshape(len(order), -1),
        available=counts.sum(axis=0),
    )


def task_shot_rows(data: TaskData, shots: int, seed: int) -> np.ndarray:
    """Row indices into ``data`` of the ``shots``-shot subset of its training folds."""
    return _split_shots(data, "train", shots, seed)


def task_shot_validation_rows(data: TaskData, shots: int, seed: int) -> np.ndarray:
    """Row indices into ``data`` of the validation records a ``shots``-shot cell selects on:
    the ``shots``-shot subset of the validation fold (the same rule and seed)."""
    return _split_shots(data, "val", shots, seed)


def _split_shots(data: TaskData, split: str, shots: int, seed: int) -> np.ndarray:
    if data.labels.ndim != 2:
        raise ConfigError(f"{data.task}: few-shot draws need per-record classes, not masks")
    rows = data.split_indices(split)  # type: ignore[arg-type]
    return rows[shot_subset(data.labels[rows], data.patient_ids[rows], shots, seed)]
