"""wfdb: any folder of WFDB records (recursive) with an optional labels CSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import wfdb

from bench.data.loading import DATASETS
from bench.errors import ConfigError, DataError

WFDB = DATASETS.get("wfdb")
LEADS = ["i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6"]


def write(folder: Path, name: str, signals: np.ndarray, rate: int = 250, fmt: str = "16") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    order = [5, 4, *range(4), *range(6, 12)]  # aVF before aVL, as in MIMIC-IV-ECG
    wfdb.wrsamp(
        name, fs=rate, units=["mV"] * 12, sig_name=[LEADS[i] for i in order],
        p_signal=np.ascontiguousarray(signals[order].T, dtype=np.float64), fmt=[fmt] * 12,
        adc_gain=[200.0] * 12, baseline=[0] * 12, write_dir=str(folder),
        comments=["Age: 61", "Sex: M"],
    )  # fmt: skip


@pytest.fixture
def folder(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    written = {}
    for name, sub, length, fmt in (("r1", "a", 2500, "16"), ("r2", "b/c", 3000, "212")):
        signals = (rng.integers(-400, 400, size=(12, length)) / 200).astype(np.float64)
        write(tmp_path / "mine" / sub, name, signals, fmt=fmt)
        written[f"{sub}/{name}"] = signals
    return tmp_path / "mine", written


def test_recursive_folder_round_trip(folder, cache_root: Path) -> None:
    root, written = folder
    data = WFDB.prepare(root, 250, cache_root, jobs=1).data
    assert list(data.meta["record"]) == ["a/r1", "b/c/r2"]
    for row, name in enumerate(data.meta["record"]):
        np.testing.assert_allclose(data.signals.record(row), written[name], atol=2.5e-3)
    assert list(data.meta["age"]) == [61, 61] and list(data.meta["sex"]) == ["M", "M"]
    assert list(data.meta["labels"]) == [(), ()]


def test_labels_csv_with_named_columns(folder, tmp_path: Path, cache_root: Path) -> None:
    root, _ = folder
    labels = tmp_path / "labels.csv"
    labels.write_text('ecg,dx\na/r1,"AF,LBBB"\nr2,NORM\n')
    options = {"labels": str(labels), "label_columns": "ecg,dx"}
    data = WFDB.prepare(root, 250, cache_root, jobs=1, options=options).data
    assert list(data.meta["labels"]) == [("AF", "LBBB"), ("NORM",)]
    with pytest.raises(DataError, match=r"has no column\(s\) \['record', 'labels'\]"):
        WFDB.prepare(root, 250, cache_root, options={"labels": str(labels)})
    with pytest.raises(ConfigError, match="needs RECORD,LABELS"):
        WFDB.prepare(root, 250, cache_root, options={"labels": str(labels), "label_columns": "x"})


def test_labels_naming_a_missing_record(folder, tmp_path: Path, cache_root: Path) -> None:
    root, _ = folder
    labels = tmp_path / "labels.csv"
    labels.write_text("record,labels\na/r1,AF\nr9,NORM\n")
    with pytest.raises(DataError, match=r"labels\.csv: r9: labelled, but no such record"):
        WFDB.prepare(root, 250, cache_root, options={"labels": str(labels)})


def test_truncated_dat(folder, cache_root: Path) -> None:
    root, _ = folder
    dat = root / "a" / "r1.dat"
    dat.write_bytes(dat.read_bytes()[:1000])
    with pytest.raises(DataError, match=r"a/r1: truncated r1.dat: 1000 bytes, expected 60000"):
        WFDB.prepare(root, 250, cache_root, jobs=1)
    assert not cache_root.exists()


def test_empty_folder(tmp_path: Path, cache_root: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no wfdb records found under"):
        WFDB.prepare(tmp_path / "empty", 250, cache_root)
