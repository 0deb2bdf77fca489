"""ludb on the real LUDB copy (skipped without it): signals, annotations and diagnoses."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import wfdb

from bench.cli import main
from bench.data.loading import DATASETS
from bench.data.storage.cache import Prepared
from bench.data.wfdb.annotations import read_annotations
from bench.errors import DataError

LUDB = DATASETS.get("ludb")
pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def prepared(ludb_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    return LUDB.prepare(ludb_root, 500, tmp_path_factory.mktemp("ludb-cache"))


def test_signals_round_trip_in_mv(prepared: Prepared, ludb_root: Path) -> None:
    data = prepared.data
    assert data.signals.shape == (200, 12, 5000) and data.sampling_rate == 500
    row = list(data.meta["record"]).index("7")
    record = wfdb.rdrecord(str(ludb_root / "data" / "7"))
    np.testing.assert_allclose(data.signals[row], record.p_signal.T, atol=1e-5)
    assert record.sig_name[0] == "i" and data.lead_names[0] == "I"


def test_diagnoses_and_demographics(prepared: Prepared) -> None:
    meta = prepared.data.meta
    rhythms = meta["labels"].map(lambda labels: "Sinus rhythm" in labels)
    assert int(rhythms.sum()) == 143  # LUDB README: sinus rhythm in 143 subjects
    first = meta.set_index("record").loc["1"]
    assert first["age"] == 51 and first["sex"] == "F"
    assert "Sinus bradycardia" in first["labels"]
    assert meta["patient_id"].nunique() == 200
    assert sorted(set(meta["fold"])) == list(range(1, 11))


def test_annotations_of_every_lead(prepared: Prepared, ludb_root: Path) -> None:
    table = prepared.data.tables["annotations"]
    counts = table.groupby("wave").size()
    assert abs(int(counts["QRS"]) - 21966) <= 5 and abs(int(counts["P"]) - 16797) <= 5
    assert set(table["lead"]) == set(prepared.data.lead_names)
    first = table[(table["record_id"] == 1) & (table["lead"] == "II")]
    marks = wfdb.rdann(str(ludb_root / "data" / "1"), "ii")
    assert first["peak"].tolist() == [
        s for s, y in zip(marks.sample, marks.symbol, strict=True) if y in "pNt"
    ]
    assert (first["onset"] < first["peak"]).all() and (first["peak"] < first["offset"]).all()


def test_fast_annotation_reader_matches_rdann(ludb_root: Path) -> None:
    for record, lead in (("1", "i"), ("57", "v3"), ("200", "avf")):
        samples, symbols = read_annotations(ludb_root / "data" / record, lead)
        marks = wfdb.rdann(str(ludb_root / "data" / record), lead)
        assert samples.tolist() == marks.sample.tolist() and symbols == marks.symbol


def test_prepare_command_prints_the_summary(prepared: Prepared, ludb_root: Path, capsys) -> None:
    cache = str(prepared.path.parents[1])  # the module's cache: reused, not rebuilt
    argv = ["data", "prepare", "ludb", "--root", str(ludb_root), "--rate", "500", "--cache", cache]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "ludb: cache reused" in out
    assert "200 records, 12 leads at 500 Hz" in out and "native rates: 500 Hz: 200" in out
    assert "     143  Sinus rhythm" in out
    assert "annotated waves: 58423 (P 16797, QRS 21965, T 19661)" in out


def test_missing_annotation_file_is_bad(ludb_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "ludb"
    (root / "data").mkdir(parents=True)
    shutil.copy(ludb_root / "ludb.csv", root)
    for path in (ludb_root / "data").glob("[12].*"):
        shutil.copy(path, root / "data")
    (root / "data" / "2.v4").unlink()
    with pytest.raises(DataError, match=r"annotation file 2\.v4 of lead v4 is missing"):
        LUDB.prepare(root, 500, tmp_path / "cache", jobs=1)
    skipped = LUDB.prepare(root, 500, tmp_path / "cache", jobs=1, on_bad_record="skip")
    assert list(skipped.data.meta["record"]) == ["1"]
    assert skipped.skipped[0].file == "data/2"


def test_resampled_annotations(ludb_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "ludb"
    (root / "data").mkdir(parents=True)
    shutil.copy(ludb_root / "ludb.csv", root)
    for path in (ludb_root / "data").glob("1.*"):
        shutil.copy(path, root / "data")
    full = LUDB.prepare(root, 500, tmp_path / "cache", jobs=1).data.tables["annotations"]
    low = LUDB.prepare(root, 100, tmp_path / "cache", jobs=1).data
    assert low.signals.shape == (1, 12, 1000)
    np.testing.assert_array_equal(low.tables["annotations"]["peak"], (full["peak"] / 5).round())
