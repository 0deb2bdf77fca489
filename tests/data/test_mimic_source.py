"""mimic-iv-ecg: the record_list.csv + WFDB tree layout, lead names in MIMIC's order, the
NaN / flat-lead quality policy, bad input naming the record and leaving nothing behind."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench.cli import main
from bench.data.formats.shards import ShardedRecords
from bench.data.loading import DATASETS
from bench.errors import DataError
from tests.data.shard_fixtures import MIMIC_GAIN, write_mimic

MIMIC = DATASETS.get("mimic-iv-ecg")


def entries(cache: Path) -> list[str]:
    folder = cache / "mimic-iv-ecg"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_reads_the_layout_matching_lead_names(tmp_path: Path, cache_root: Path) -> None:
    expected = write_mimic(tmp_path / "mimic", 4)
    header = (tmp_path / "mimic/files/p1000/p10000000/s40000000/40000000.hea").read_text()
    assert header.index(" aVF") < header.index(" aVL")  # the official order, not canonical
    prepared = MIMIC.prepare(tmp_path / "mimic", None, cache_root, jobs=1)
    data = prepared.data
    assert isinstance(data.signals, ShardedRecords)
    assert list(data.meta["record"]) == ["40000000", "40000001", "40000002", "40000003"]
    assert data.sampling_rate == 500 and list(data.lengths) == [5000] * 4
    patients = list(data.meta["patient_id"])
    assert patients[0] == patients[1] != patients[2] == patients[3]  # two studies per subject
    for row, study in enumerate(data.meta["record"]):
        signals = expected[study]
        peak = np.abs(signals).max(axis=1, keepdims=True)
        assert np.all(np.abs(data.signals[row] - signals) <= peak / 65534 + 1e-6)
    # aVL is the 5th canonical lead although the header stores it 6th
    assert np.abs(data.signals[0][4] - expected["40000000"][4]).max() < 1 / MIMIC_GAIN
    assert prepared.built and not MIMIC.prepare(tmp_path / "mimic", None, cache_root).built


def test_nan_and_flat_leads_are_dropped_and_reported(tmp_path: Path, cache_root: Path) -> None:
    write_mimic(tmp_path / "mimic", 5, nan_records=(1,), flat_records=(3,))
    prepared = MIMIC.prepare(tmp_path / "mimic", None, cache_root, jobs=1)
    assert list(prepared.data.meta["record"]) == ["40000000", "40000002", "40000004"]
    assert prepared.skipped == ()  # a quality drop is not a bad record
    manifest = json.loads((prepared.path / "manifest.json").read_text())
    assert manifest["dropped_counts"] == {"nan": 1, "flat": 1}
    reasons = {d["file"]: d["reason"] for d in manifest["dropped"]}
    assert reasons["files/p1000/p10000000/s40000001/40000001"] == "10 NaN or infinite samples"
    assert "flat lead(s) aVL" in reasons["files/p1000/p10000001/s40000003/40000003"]


def test_resamples_to_the_asked_rate(tmp_path: Path, cache_root: Path) -> None:
    write_mimic(tmp_path / "mimic", 2)
    data = MIMIC.prepare(tmp_path / "mimic", 100, cache_root, jobs=1).data
    assert data.sampling_rate == 100 and list(data.lengths) == [1000, 1000]
    assert data.signals[1].shape == (12, 1000) and data.signals[1].dtype == np.float32


def test_a_listed_record_missing_on_disk_fails_naming_it(tmp_path: Path, cache_root: Path) -> None:
    write_mimic(tmp_path / "mimic", 3)
    (tmp_path / "mimic/files/p1000/p10000001/s40000002/40000002.dat").unlink()
    with pytest.raises(DataError, match=r"s40000002/40000002: missing on disk") as error:
        MIMIC.prepare(tmp_path / "mimic", None, cache_root, jobs=1)
    command = f"bench data prepare mimic-iv-ecg --root {tmp_path / 'mimic'} --skip-bad-records"
    assert command in str(error.value)
    assert not cache_root.exists()  # no cache, no partial shards, no empty folder
    prepared = MIMIC.prepare(tmp_path / "mimic", None, cache_root, jobs=1, on_bad_record="skip")
    assert list(prepared.data.meta["record"]) == ["40000000", "40000001"]
    assert [bad.record_id for bad in prepared.skipped] == [3]


def test_layout_errors_name_the_file(tmp_path: Path, cache_root: Path) -> None:
    write_mimic(tmp_path / "mimic", 2)
    list_file = tmp_path / "mimic" / "record_list.csv"
    list_file.write_text(list_file.read_text().replace("study_id", "study"))
    with pytest.raises(DataError, match=r"record_list.csv has no column\(s\) \['study_id'\]"):
        MIMIC.prepare(tmp_path / "mimic", None, cache_root, jobs=1)
    list_file.unlink()
    with pytest.raises(DataError, match=r"record_list\.csv not found"):
        MIMIC.prepare(tmp_path / "mimic", None, cache_root, jobs=1)
    assert entries(cache_root) == []


def test_prepare_prints_the_scale_figures(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write_mimic(tmp_path / "mimic", 3, flat_records=(0,))
    argv = ["data", "prepare", "mimic-iv-ecg", "--root", str(tmp_path / "mimic")]
    assert main([*argv, "--cache", str(tmp_path / "cache"), "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "2 records, 0.01 hours of ECG at 100 Hz in 1 int16 shards" in out
    assert "GB on disk" in out and "projected at full scale (800,000 records)" in out
    assert "dropped by the quality policy: 1 (flat 1)" in out
    assert main(["data", "info", "mimic-iv-ecg", "--cache", str(tmp_path / "cache")]) == 0
    info = capsys.readouterr().out
    assert "2 records, 0.01 hours of ECG" in info and "projected at full scale" in info
