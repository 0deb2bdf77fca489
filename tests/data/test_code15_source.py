"""code15: HDF5 parts + exams.csv via h5py, padding rows, zero-padding trimmed to the true
length, metadata and labels, and bad input naming the file (nothing half-written)."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from bench.data.loading import DATASETS
from bench.data.sources.code15 import trim_padding
from bench.errors import DataError
from tests.data.shard_fixtures import write_code15

CODE15 = DATASETS.get("code15")
LENGTHS = ([2800, 4000, 3500], [4096, 3000])


def entries(cache: Path) -> list[str]:
    folder = cache / "code15"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_trim_keeps_interior_zeros_and_the_true_length() -> None:
    tracing = np.zeros((4096, 12), np.float32)
    tracing[100:3100] = 1.0
    tracing[1000:1010] = 0.0  # zeros inside the record stay
    trimmed = trim_padding(tracing)
    assert trimmed.shape == (12, 3000) and np.all(trimmed[:, 900:910] == 0)
    assert trim_padding(np.zeros((4096, 12), np.float32)).shape == (12, 0)


def test_reads_parts_trims_padding_and_keeps_metadata(tmp_path: Path, cache_root: Path) -> None:
    expected = write_code15(tmp_path / "code15", LENGTHS, padding_rows=2)
    prepared = CODE15.prepare(tmp_path / "code15", None, cache_root, jobs=1)
    data = prepared.data
    meta = data.meta
    assert list(meta["record"]) == ["1001", "1002", "1003", "1004", "1005"]
    assert list(data.lengths) == [2800, 4000, 3500, 4096, 3000]  # true lengths, not 4096
    assert data.sampling_rate == 400
    for row, exam in enumerate(meta["record"]):
        peak = np.abs(expected[exam]).max(axis=1, keepdims=True)
        assert np.all(np.abs(data.signals[row] - expected[exam]) <= peak / 65534 + 1e-6)
    assert list(meta["labels"])[:3] == [("RBBB",), ("AF",), ()]
    assert list(meta["sex"])[:2] == ["male", "female"] and meta["age"].iloc[0] == 50.0
    patients = list(meta["patient_id"])  # patient_id 500 + exam // 2: 1002 and 1003 share one
    assert patients[1] == patients[2] != patients[0]
    manifest = json.loads((prepared.path / "manifest.json").read_text())
    assert {n["record"]: n["note"] for n in manifest["notes"]} == {
        "exams_part0.hdf5": "2 padding rows (exam_id 0) skipped",
        "exams_part1.hdf5": "2 padding rows (exam_id 0) skipped",
    }


def test_groups_folds_by_patient(tmp_path: Path, cache_root: Path) -> None:
    write_code15(tmp_path / "code15", ([3000] * 12,))
    meta = CODE15.prepare(tmp_path / "code15", 100, cache_root, jobs=1).data.meta
    assert list(meta["length"]) == [750] * 12  # 400 -> 100 Hz
    for _, group in meta.groupby("patient_id"):
        assert group["fold"].nunique() == 1


def test_an_all_zero_exam_is_dropped_and_reported(tmp_path: Path, cache_root: Path) -> None:
    write_code15(tmp_path / "code15", LENGTHS, zero_rows=(1002,))
    prepared = CODE15.prepare(tmp_path / "code15", None, cache_root, jobs=1)
    assert "1002" not in set(prepared.data.meta["record"]) and len(prepared.data.meta) == 4
    manifest = json.loads((prepared.path / "manifest.json").read_text())
    assert manifest["dropped"][0]["file"] == "exams_part0.hdf5 [1002]"
    assert manifest["dropped_counts"] == {"empty": 1}


def test_an_exam_missing_from_the_table_is_a_bad_record(tmp_path: Path, cache_root: Path) -> None:
    write_code15(tmp_path / "code15", LENGTHS)
    table = tmp_path / "code15" / "exams.csv"
    lines = table.read_text().splitlines()
    table.write_text("\n".join(line for line in lines if not line.startswith("1004,")) + "\n")
    with pytest.raises(DataError, match=r"exams_part1.hdf5 \[1004\]: exam_id 1004 has no row"):
        CODE15.prepare(tmp_path / "code15", None, cache_root, jobs=1)
    assert entries(cache_root) == []
    prepared = CODE15.prepare(tmp_path / "code15", None, cache_root, jobs=1, on_bad_record="skip")
    assert list(prepared.data.meta["record"]) == ["1001", "1002", "1003", "1005"]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("no_tracings", r"exams_part1.hdf5 has no dataset\(s\) \['tracings'\]"),
        ("not_hdf5", r"exams_part1.hdf5 is not a readable HDF5 file"),
        ("shape", r"exams_part1.hdf5: tracings of shape \(3, 4096, 12\) and 2 exam ids"),
    ],
)
def test_a_damaged_part_fails_naming_it(
    tmp_path: Path, cache_root: Path, damage: str, message: str
) -> None:
    write_code15(tmp_path / "code15", LENGTHS, padding_rows=0)
    part = tmp_path / "code15" / "exams_part1.hdf5"
    if damage == "not_hdf5":
        part.write_bytes(b"not an hdf5 file")
    else:
        with h5py.File(part, "a") as handle:
            del handle["tracings"]
            if damage == "shape":
                handle.create_dataset("tracings", data=np.zeros((3, 4096, 12), np.float32))
    with pytest.raises(DataError, match=message):
        CODE15.prepare(tmp_path / "code15", None, cache_root, jobs=1)
    assert entries(cache_root) == []
