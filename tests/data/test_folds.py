"""Deterministic stratified, patient-grouped folds for datasets without official ones."""

from __future__ import annotations

from collections import Counter

import numpy as np

from bench.data.folds import assign_folds, fold_spec


def labelled(n: int, seed: int = 0) -> tuple[list[tuple[str, ...]], list[str]]:
    rng = np.random.default_rng(seed)
    labels = [
        tuple(c for c, p in (("AF", 0.2), ("RBBB", 0.1), ("NSR", 0.6), ("RARE", 0.02))
              if rng.random() < p)
        for _ in range(n)
    ]  # fmt: skip
    patients = [f"p{i // 3}" for i in range(n)]  # three records per patient
    return labels, patients


def test_folds_are_deterministic_seeded_and_grouped() -> None:
    labels, patients = labelled(3000)
    folds = assign_folds(labels, patients, seed=0)
    assert np.array_equal(folds, assign_folds(labels, patients, seed=0))
    assert not np.array_equal(folds, assign_folds(labels, patients, seed=1))
    by_patient: dict[str, set[int]] = {}
    for patient, fold in zip(patients, folds, strict=True):
        by_patient.setdefault(patient, set()).add(int(fold))
    assert all(len(members) == 1 for members in by_patient.values())
    assert fold_spec(3) == {"method": "stratified-grouped", "version": 1, "folds": 10, "seed": 3}


def test_folds_are_stratified_and_balanced() -> None:
    labels, patients = labelled(3000)
    folds = assign_folds(labels, patients)
    sizes = Counter(folds.tolist())
    assert sorted(sizes) == list(range(1, 11))
    assert max(sizes.values()) - min(sizes.values()) <= 10  # groups of three records
    for label in ("AF", "RBBB", "RARE"):
        has = np.array([label in row for row in labels])
        per_fold = np.bincount(folds[has], minlength=11)[1:]
        assert per_fold.max() - per_fold.min() <= 3, (label, per_fold)


def test_unlabelled_records_and_single_records_per_group() -> None:
    folds = assign_folds([()] * 25, [str(i) for i in range(25)])
    assert sorted(Counter(folds.tolist()).values()) == [2] * 5 + [3] * 5
