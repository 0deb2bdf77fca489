"""Dataset source and task "synthetic": no download, folds by patient, labels in meta."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from bench.data.loading import load_dataset, resolve_root
from bench.data.preprocess import Preprocessing
from bench.data.signals import CANONICAL_LEADS, INDEPENDENT_LEADS
from bench.data.sources.synthetic import DEFAULT_CONFIG, assign_folds, synthetic_fingerprint
from bench.data.synthetic.generator import LABEL_NAMES
from bench.task import TASKS, expand_tasks


@pytest.fixture(scope="module")
def dataset():
    return load_dataset("synthetic")


def test_needs_no_root_and_has_the_default_shape(dataset):
    assert resolve_root("synthetic", None) is None
    assert dataset.signals.shape == (3000, 12, 1000)
    assert dataset.sampling_rate == 100 and dataset.lead_names == CANONICAL_LEADS
    assert not dataset.signals.flags.writeable  # shared between callers: read-only
    assert list(dataset.meta.columns[:3]) == ["record_id", "patient_id", "fold"]
    assert set(LABEL_NAMES) <= set(dataset.meta.columns)
    assert dataset.meta["record_id"].is_unique
    assert len(dataset.tables["parameters"]) == 3000


def test_folds_are_balanced_and_never_split_a_patient(dataset):
    meta = dataset.meta
    sizes = meta["fold"].value_counts().sort_index()
    assert list(sizes.index) == list(range(1, 11))
    assert sizes.min() > 250 and sizes.max() < 350
    assert (meta.groupby("patient_id")["fold"].nunique() == 1).all()
    assert meta["patient_id"].duplicated().sum() > 100  # grouping matters


def test_fold_assignment_is_seeded_and_by_patient():
    patients = np.repeat(np.arange(50), 2)
    folds = assign_folds(patients, seed=0)
    np.testing.assert_array_equal(folds, assign_folds(patients, seed=0))
    assert not np.array_equal(folds, assign_folds(patients, seed=1))
    assert (folds[::2] == folds[1::2]).all()
    assert np.bincount(folds[::2], minlength=11)[1:].tolist() == [5] * 10


def test_fingerprint_is_stable_and_follows_every_parameter(dataset):
    assert dataset.fingerprint == synthetic_fingerprint(DEFAULT_CONFIG)
    assert load_dataset("synthetic").fingerprint == dataset.fingerprint
    others = {
        synthetic_fingerprint(replace(DEFAULT_CONFIG, **change))
        for change in ({"seed": 1}, {"n_records": 10}, {"noise_mv": 0.05}, {"duration_s": 5.0})
    }
    assert len(others) == 4 and dataset.fingerprint not in others


def test_rate_and_leads_come_from_the_shared_preprocessing(dataset):
    data = load_dataset("synthetic", preprocessing=Preprocessing(rate=250, leads="8"))
    assert data.signals.shape == (3000, 8, 2500) and data.sampling_rate == 250
    assert data.lead_names == INDEPENDENT_LEADS
    assert data.fingerprint != dataset.fingerprint


def test_task_has_the_five_labels_on_every_record(dataset):
    task = TASKS.get("synthetic")
    assert (task.group, task.dataset) == ("synthetic", "synthetic")
    assert expand_tasks(["synthetic"]) == ["synthetic"]
    data = task.load()
    assert data.label_names == LABEL_NAMES
    assert data.labels.shape == (3000, 5) and data.labels.dtype == np.float32
    np.testing.assert_array_equal(data.labels, dataset.meta[list(LABEL_NAMES)].to_numpy())
    sizes = [len(data.split_indices(split)) for split in ("train", "val", "test")]
    assert sum(sizes) == 3000 and sizes[0] > 7 * sizes[2]
    prevalence = data.labels[data.split_indices("train")].mean(axis=0)
    assert ((prevalence > 0.1) & (prevalence < 0.35)).all()
