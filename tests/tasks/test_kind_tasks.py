"""Tasks of the regression and multiclass kinds: ptbxl-age, ptbxl-sex, cinc-age, synthetic-*."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.data.signals import CANONICAL_LEADS, SignalSet
from bench.data.sources.synthetic import synthetic_signal_set
from bench.data.synthetic.config import GeneratorConfig
from bench.errors import DataError
from bench.task import TASKS


def ptbxl_like(ages: list[float], sexes: list[float]) -> SignalSet:
    n = len(ages)
    meta = pd.DataFrame(
        {"record_id": np.arange(1, n + 1), "patient_id": np.arange(1, n + 1),
         "fold": np.arange(n) % 10 + 1, "age": ages, "sex": sexes}
    )  # fmt: skip
    signals = np.zeros((n, 12, 10), dtype=np.float32)
    return SignalSet("ptbxl", signals, meta, 100, CANONICAL_LEADS, "x")


def test_ptbxl_age_drops_missing_and_anonymised_ages() -> None:
    task = TASKS.get("ptbxl-age")
    assert (task.kind, task.main_metric, task.higher_is_better) == ("regression", "mae", False)
    data = task.attach(ptbxl_like([55.0, np.nan, 300.0, 89.0], [0, 1, 0, 1]))
    assert data.labels[:, 0].tolist() == [55.0, 89.0]
    assert data.record_ids.tolist() == [1, 4] and data.label_names == ("age",)


def test_ptbxl_sex_is_two_one_hot_classes() -> None:
    task = TASKS.get("ptbxl-sex")
    assert task.kind == "multiclass" and task.higher_is_better
    data = task.attach(ptbxl_like([50.0] * 4, [0, 1, np.nan, 1]))
    assert data.label_names == ("male", "female")
    assert data.labels.tolist() == [[1, 0], [0, 1], [0, 1]]
    no_sex = ptbxl_like([50.0], [0])
    no_sex.meta.drop(columns="sex", inplace=True)
    with pytest.raises(DataError, match="'sex'"):
        task.attach(no_sex)


def test_synthetic_kinds_follow_the_generating_rate() -> None:
    data = synthetic_signal_set(GeneratorConfig(n_records=60, seed=3))
    rate = data.tables["parameters"]["hr_bpm"].to_numpy()
    hr = TASKS.get("synthetic-hr").attach(data)
    np.testing.assert_allclose(hr.labels[:, 0], rate, rtol=1e-6)
    rhythm = TASKS.get("synthetic-rhythm").attach(data)
    assert (rhythm.labels.sum(1) == 1).all()
    expected = np.where(rate < 60, 0, np.where(rate > 100, 2, 1))
    assert rhythm.labels.argmax(1).tolist() == expected.tolist()
    assert rhythm.labels[:, 0].tolist() == data.meta["bradycardia"].astype(float).tolist()
