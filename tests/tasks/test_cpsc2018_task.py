"""Task cpsc2018: the nine classes from a prepared cpsc2018 cache (original layout fixture)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.data.loading import DATASETS
from bench.task import TASKS
from tests.data.cinc_fixtures import random_mv, write_cpsc_original


def test_labels_and_ragged_records(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    names = [f"A{i:04d}" for i in range(1, 21)]
    signals = {name: random_mv(rng, 12, 3000 + 250 * (i % 4)) for i, name in enumerate(names)}
    labels = {name: [1 + i % 9] + ([2] if i == 3 else []) for i, name in enumerate(names)}
    write_cpsc_original(tmp_path / "cpsc", signals, labels)
    data = DATASETS.get("cpsc2018").prepare(tmp_path / "cpsc", 100, tmp_path / "cache").data
    task = TASKS.get("cpsc2018")
    task_data = task.attach(data)
    assert task_data.label_names == (
        "Normal", "AF", "I-AVB", "LBBB", "RBBB", "PAC", "PVC", "STD", "STE",
    )  # fmt: skip
    assert task_data.labels.shape == (20, 9)
    assert task_data.labels[3].tolist() == [0, 1, 0, 1, 0, 0, 0, 0, 0]
    assert task_data.labels.sum(0).tolist() == [3, 4, 2, 2, 2, 2, 2, 2, 2]
    assert task_data.fold_spec["method"] == "stratified-grouped"
    assert sorted(set(task_data.signals.lengths.tolist())) == [600, 650, 700, 750]
