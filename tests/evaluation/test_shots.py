"""Few-shot draws: K positive records per class, whole patients, nested in K, seeded."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from bench.evaluation.shots import (
    shot_ordering,
    shot_subset,
    task_shot_rows,
    task_shot_validation_rows,
)
from bench.task import TaskData

SHOTS = (1, 2, 5, 10)


def multilabel_rows(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """600 records of 250 patients (1-4 records each), 6 classes from common to rare (class 5:
    7 positive records in all, fewer than the largest K)."""
    rng = np.random.default_rng(seed)
    patients = np.repeat(np.arange(250), rng.integers(1, 5, 250))[:600]
    rates = np.array([0.5, 0.3, 0.15, 0.08, 0.04, 0.0])
    labels = (rng.random((len(patients), 6)) < rates).astype(np.float32)
    labels[rng.choice(len(patients), 7, replace=False), 5] = 1.0
    return labels, patients


@pytest.mark.parametrize("shots", SHOTS)
def test_every_class_gets_k_positive_records_from_whole_patients(shots: int) -> None:
    labels, patients = multilabel_rows()
    rows = shot_subset(labels, patients, shots, seed=3)
    available = labels.sum(axis=0)
    assert (labels[rows].sum(axis=0) >= np.minimum(shots, available)).all()
    chosen = np.unique(patients[rows])
    assert set(rows) == set(np.flatnonzero(np.isin(patients, chosen)))  # no patient split
    # the shortest greedy prefix: one patient fewer leaves some class short
    ordering = shot_ordering(labels, patients, seed=3)
    prefix = len(chosen)
    assert (ordering.drawn[prefix - 1] >= np.minimum(shots, available)).all()
    if prefix > 1:
        assert not (ordering.drawn[prefix - 2] >= np.minimum(shots, available)).all()


def test_subsets_are_nested_in_k_and_seeded() -> None:
    labels, patients = multilabel_rows()
    subsets = [set(shot_subset(labels, patients, k, seed=3)) for k in SHOTS]
    assert all(small <= large for small, large in itertools.pairwise(subsets))
    assert all(len(small) < len(large) for small, large in itertools.pairwise(subsets))
    again = set(shot_subset(labels.copy(), patients.copy(), 5, seed=3))
    assert again == subsets[2]
    others = {frozenset(shot_subset(labels, patients, 5, seed=s)) for s in range(4, 9)}
    assert len(others | {frozenset(subsets[2])}) > 1  # another seed, another draw


def test_a_multiclass_task_gets_exactly_k_records_of_each_class() -> None:
    rng = np.random.default_rng(1)
    labels = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 300)]
    patients = np.arange(300)  # one record each
    rows = shot_subset(labels, patients, 5, seed=0)
    assert labels[rows].sum(axis=0).tolist() == [5.0, 5.0, 5.0, 5.0]


def test_validation_is_drawn_by_the_same_rule_from_the_validation_fold() -> None:
    labels, patients = multilabel_rows(2)
    folds = np.where(np.arange(600) < 400, 1, np.where(np.arange(600) < 500, 9, 10))
    data = TaskData(
        task="toy", signals=np.zeros((600, 1, 10), np.float32), labels=labels,
        label_names=tuple("abcdef"), record_ids=np.arange(600), patient_ids=patients,
        folds=folds, sampling_rate=100, lead_names=("I",), fingerprint="x",
    )  # fmt: skip
    val = np.flatnonzero(folds == 9)
    expected = val[shot_subset(labels[val], patients[val], 2, seed=1)]
    np.testing.assert_array_equal(task_shot_validation_rows(data, 2, seed=1), expected)
    train = task_shot_rows(data, 2, seed=1)
    assert (folds[train] == 1).all() and (folds[expected] == 9).all()
