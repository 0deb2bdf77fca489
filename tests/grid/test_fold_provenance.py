"""The fold spec of a dataset without official folds reaches every result's provenance."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from bench.data.formats.ragged import Ragged
from bench.data.signals import SignalSet
from bench.grid.provenance import collect_provenance
from bench.grid.results import read_result, write_result
from bench.task import Labels, Task
from tests.grid.test_results import _predictions, _result

SPEC = {"method": "stratified-grouped", "version": 1, "folds": 10, "seed": 0}


class AllRecords(Task):
    name = "toy-all"
    dataset = "toy"
    group = "toy"

    def labels(self, data: SignalSet) -> Labels:
        n = len(data.meta)
        return Labels(np.ones((n, 1), np.float32), ("x",), np.arange(n) != 1)


def test_task_data_keeps_the_fold_spec_and_ragged_records() -> None:
    parts = [np.zeros((12, n), np.float32) for n in (10, 20, 30)]
    meta = pd.DataFrame({"record_id": [1, 2, 3], "patient_id": [1, 2, 3], "fold": [1, 9, 10]})
    data = SignalSet(
        "toy", Ragged.from_records(parts, 12), meta, 100, tuple("abcdefghijkl"), "f",
        fold_spec=SPEC,
    )  # fmt: skip
    task_data = AllRecords().attach(data)
    assert task_data.fold_spec == SPEC
    assert isinstance(task_data.signals, Ragged)
    assert task_data.signals.lengths.tolist() == [10, 30]


def test_provenance_round_trips_the_folds(tmp_path: Path) -> None:
    result = _result(provenance=collect_provenance("fp", folds=SPEC))
    path = write_result(tmp_path, result, _predictions())
    assert read_result(path).provenance.folds == SPEC


def test_results_written_before_fold_specs_still_load() -> None:
    old = sorted((Path(__file__).with_name("fixtures") / "premove_grid" / "runs").glob("*.json"))
    assert old and all("folds" not in json.loads(path.read_text())["provenance"] for path in old)
    assert all(read_result(path).provenance.folds == {} for path in old)
