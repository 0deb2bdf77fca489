"""cpsc2018 from its original release (.mat v5 struct ECG + REFERENCE.csv) and from the CinC
A-tranche: the same records, signals, classes and demographics."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from bench.data.loading import DATASETS
from bench.errors import DataError
from tests.data.cinc_fixtures import random_mv, write_cinc_record, write_cpsc_original

CPSC = DATASETS.get("cpsc2018")
LABELS = {"A0001": [1], "A0002": [2, 5], "A0003": [8, 9, 7]}


@pytest.fixture
def signals() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {name: random_mv(rng, 12, 3000 + 500 * i) for i, name in enumerate(LABELS)}


def test_original_release_round_trip(tmp_path: Path, cache_root: Path, signals) -> None:
    write_cpsc_original(tmp_path / "cpsc", signals, LABELS, ages={"A0002": np.nan})
    data = CPSC.prepare(tmp_path / "cpsc", 500, cache_root, jobs=1).data
    assert list(data.meta["record"]) == list(LABELS)
    assert data.lengths.tolist() == [3000, 3500, 4000]
    for row, name in enumerate(LABELS):
        np.testing.assert_allclose(data.signals.record(row), signals[name], atol=1e-6)
    meta = data.meta.set_index("record")
    assert meta.loc["A0002", "labels"] == ("AF", "RBBB")
    assert meta.loc["A0003", "labels"] == ("STD", "STE", "PVC")
    assert meta.loc["A0001", "age"] == 50 and math.isnan(meta.loc["A0002", "age"])
    assert meta.loc["A0001", "sex"] == "F" and meta.loc["A0002", "sex"] == "M"
    assert meta.loc["A0001", "global_id"] == "cpsc2018:A0001"


def test_the_cinc_a_tranche_gives_the_same_records(tmp_path: Path, cache_root: Path, signals):
    write_cpsc_original(tmp_path / "cpsc", signals, LABELS)
    codes = {"A0001": "426783006", "A0002": "164889003,59118001,10370003",
             "A0003": "429622005,164931005,164884008"}  # fmt: skip
    folder = tmp_path / "cinc" / "training" / "cpsc_2018" / "g1"
    for name, dx in codes.items():
        write_cinc_record(
            folder, name, signals[name], comments=("Age: 50", "Sex: Male", f"Dx: {dx}")
        )
    original = CPSC.prepare(tmp_path / "cpsc", 500, cache_root / "a", jobs=1).data
    tranche = CPSC.prepare(tmp_path / "cinc", 500, cache_root / "b", jobs=1).data
    assert list(tranche.meta["labels"]) == list(original.meta["labels"])
    assert list(tranche.meta["global_id"]) == list(original.meta["global_id"])
    assert list(tranche.meta["signal_fingerprint"]) == list(original.meta["signal_fingerprint"])
    for row in range(3):
        np.testing.assert_allclose(
            tranche.signals.record(row), original.signals.record(row), atol=0.5e-3
        )


def test_reference_naming_a_missing_record(tmp_path: Path, cache_root: Path, signals) -> None:
    write_cpsc_original(tmp_path / "cpsc", signals, {**LABELS, "A0004": [3]})
    with pytest.raises(DataError, match=r"REFERENCE\.csv: A0004: listed, but A0004\.mat not found"):
        CPSC.prepare(tmp_path / "cpsc", 500, cache_root, jobs=1)
    assert not (cache_root / "cpsc2018").exists() or not any((cache_root / "cpsc2018").iterdir())
    prepared = CPSC.prepare(tmp_path / "cpsc", 500, cache_root, jobs=1, on_bad_record="skip")
    assert len(prepared.data.meta) == 3 and prepared.skipped[0].file == "REFERENCE.csv: A0004"


def test_bad_struct_and_bad_reference(tmp_path: Path, cache_root: Path, signals) -> None:
    root = tmp_path / "cpsc"
    write_cpsc_original(root, signals, LABELS)
    scipy.io.savemat(root / "TrainingSet" / "A0002.mat", {"ecg": np.zeros((12, 10))})
    with pytest.raises(DataError, match=r"A0002.mat has no struct 'ECG'"):
        CPSC.prepare(root, 500, cache_root, jobs=1)
    (root / "REFERENCE.csv").write_text("Recording,First_label\nA0001,12\n")
    with pytest.raises(DataError, match=r"REFERENCE.csv: record A0001 has bad labels \['12'\]"):
        CPSC.prepare(root, 500, cache_root, jobs=1)
