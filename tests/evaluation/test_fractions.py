"""Label fractions: nested, deterministic, by patient, covering every class, stratified."""

from __future__ import annotations

import itertools
import math
from collections import OrderedDict

import numpy as np
import pytest

import bench.evaluation.fractions as fractions_module
from bench.errors import ConfigError, DataError
from bench.evaluation.fractions import (
    DEFAULT_FRACTIONS,
    check_fraction,
    fraction_report,
    fraction_subset,
    iterative_stratification,
    patient_ordering,
)

PREVALENCE = np.array([0.4, 0.25, 0.15, 0.08, 0.03, 0.01])


def multilabel_set(n_records: int = 3000, n_patients: int = 2400, seed: int = 0):
    """Correlated multi-label rows [N, 6] (1 %-40 % prevalence) and patient ids, some repeated."""
    rng = np.random.default_rng(seed)
    patient = np.concatenate(
        [np.arange(n_patients), rng.choice(n_patients, n_records - n_patients)]
    )
    rng.shuffle(patient)
    risk = 1 + 0.5 * rng.standard_normal(n_patients).clip(-1, 1)
    labels = rng.random((n_records, len(PREVALENCE))) < PREVALENCE * risk[patient, None]
    return labels.astype(np.float32), patient * 7 + 3


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    return multilabel_set()


def random_patient_sample(patient_ids: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Baseline: whole patients in random order until ceil(f * N) records (no stratification)."""
    patients = np.random.default_rng(seed).permutation(np.unique(patient_ids))
    records = np.array([np.count_nonzero(patient_ids == p) for p in patients])
    taken = np.searchsorted(np.cumsum(records), math.ceil(fraction * len(patient_ids))) + 1
    return np.flatnonzero(np.isin(patient_ids, patients[:taken]))


def test_subsets_are_nested_for_every_seed(data):
    labels, patients = data
    for seed in range(3):
        subsets = [set(fraction_subset(labels, patients, f, seed)) for f in DEFAULT_FRACTIONS]
        sizes = [len(s) for s in subsets]
        assert sizes == sorted(sizes) and sizes[0] < sizes[-1]
        for smaller, larger in itertools.pairwise(subsets):
            assert smaller <= larger


def test_same_seed_gives_same_subset_even_when_recomputed(data, monkeypatch):
    labels, patients = data
    first = fraction_subset(labels, patients, 0.1, seed=7)
    monkeypatch.setattr(fractions_module, "_ORDERINGS", OrderedDict())
    again = fraction_subset(labels.copy(), patients.copy(), 0.1, seed=7)
    np.testing.assert_array_equal(first, again)


def test_different_seeds_give_different_subsets(data):
    labels, patients = data
    subsets = [set(fraction_subset(labels, patients, 0.1, seed)) for seed in range(4)]
    for i in range(4):
        for j in range(i + 1, 4):
            overlap = len(subsets[i] & subsets[j]) / len(subsets[i])
            assert overlap < 0.5  # a 10 % subset shares few rows with another seed's


def test_no_patient_is_split(data):
    labels, patients = data
    for fraction in DEFAULT_FRACTIONS:
        chosen = np.zeros(len(patients), dtype=bool)
        chosen[fraction_subset(labels, patients, fraction, seed=1)] = True
        inside = np.unique(patients[chosen])
        assert not np.isin(patients[~chosen], inside).any()


def test_every_class_with_a_positive_is_covered_at_every_fraction():
    labels, patients = multilabel_set(n_records=400, n_patients=350, seed=3)
    labels = np.concatenate([labels, np.zeros((400, 2), dtype=np.float32)], axis=1)
    labels[17, 6] = 1  # a class with a single positive record
    for seed in range(5):
        for fraction in (0.001, 0.01, 0.05):
            subset = fraction_subset(labels, patients, fraction, seed)
            counts = labels[subset].sum(axis=0)
            assert (counts[:7] >= 1).all()
            assert counts[7] == 0  # a class absent from training stays absent, no error
            assert 17 in subset


def test_full_fraction_is_every_training_row(data):
    labels, patients = data
    np.testing.assert_array_equal(
        fraction_subset(labels, patients, 1.0, seed=0), np.arange(len(labels))
    )


def test_realised_size_is_the_shortest_prefix_reaching_the_target(data):
    labels, patients = data
    most_records = np.bincount(np.unique(patients, return_inverse=True)[1]).max()
    for fraction in (0.05, 0.1, 0.5):
        size = len(fraction_subset(labels, patients, fraction, seed=2))
        target = math.ceil(fraction * len(labels))
        assert target <= size < target + most_records


def test_ten_percent_keeps_class_proportions_better_than_random_patients(data):
    """Stratified 10 % subsets stay within 2 points of every class's training proportion and
    have under half the mean absolute deviation of random patient samples (20 seeds each)."""
    labels, patients = data
    full = labels.mean(axis=0)
    stratified, random = [], []
    for seed in range(20):
        subset = fraction_subset(labels, patients, 0.1, seed)
        deviation = np.abs(labels[subset].mean(axis=0) - full)
        assert deviation.max() < 0.02
        stratified.append(deviation.mean())
        baseline = random_patient_sample(patients, 0.1, seed)
        random.append(np.abs(labels[baseline].mean(axis=0) - full).mean())
    assert np.mean(stratified) < 0.5 * np.mean(random)


def test_iterative_stratification_balances_sizes_and_classes(data):
    labels, patients = data
    _, row_patient = np.unique(patients, return_inverse=True)
    records = np.bincount(row_patient).astype(float)
    positives = np.zeros((len(records), labels.shape[1]))
    np.add.at(positives, row_patient, labels)
    part = iterative_stratification(positives, records, 10, np.random.default_rng(0))
    sizes = np.bincount(part, weights=records, minlength=10)
    per_part = np.zeros((10, labels.shape[1]))
    np.add.at(per_part, part, positives)
    assert np.abs(sizes - records.sum() / 10).max() <= 3
    assert np.abs(per_part - positives.sum(axis=0) / 10).max() <= 2


def test_ordering_is_cached_per_content_and_seed(data):
    labels, patients = data
    first = patient_ordering(labels, patients, seed=11)
    assert patient_ordering(labels.copy(), patients.copy(), seed=11) is first
    assert patient_ordering(labels, patients, seed=12) is not first


def test_report_counts_match_the_subsets(data):
    labels, patients = data
    names = [f"c{i}" for i in range(labels.shape[1])]
    report = fraction_report(labels, patients, (0.05, 1.0), seed=4, label_names=names)
    assert list(report.columns) == ["fraction", "realised", "records", "patients", *names]
    subset = fraction_subset(labels, patients, 0.05, seed=4)
    row = report.iloc[0]
    assert row["records"] == len(subset)
    assert row["patients"] == len(np.unique(patients[subset]))
    assert row["realised"] == pytest.approx(len(subset) / len(labels))
    np.testing.assert_array_equal(row[names].to_numpy(int), labels[subset].sum(axis=0))
    assert report.iloc[1]["records"] == len(labels)


@pytest.mark.parametrize("bad", [0, 0.0, -0.1, 1.0001, 2, float("nan"), float("inf"), "0.5", True])
def test_fraction_outside_unit_interval_is_a_config_error(data, bad):
    labels, patients = data
    with pytest.raises(ConfigError, match=r"fraction = .* \(0, 1\]"):
        fraction_subset(labels, patients, bad, seed=0)
    with pytest.raises(ConfigError, match="--fractions"):
        check_fraction(bad, "--fractions")


def test_bad_rows_are_data_errors(data):
    labels, patients = data
    with pytest.raises(DataError, match="patient ids"):
        fraction_subset(labels, patients[:-1], 0.5, seed=0)
    with pytest.raises(DataError, match="no training rows"):
        fraction_subset(labels[:0], patients[:0], 0.5, seed=0)
    with pytest.raises(DataError, match=r"\[N, C\]"):
        fraction_subset(labels[:, 0], patients, 0.5, seed=0)
    with pytest.raises(ConfigError, match="seed = -1"):
        fraction_subset(labels, patients, 0.5, seed=-1)
