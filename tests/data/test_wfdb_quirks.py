"""WFDB folders as real data brings them: PTB Diagnostic's multi-file records, records that all
go bad, units other than mV and uncalibrated gains; a failed prepare leaves no folder behind."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import wfdb

from bench.data.loading import DATASETS
from bench.errors import ConfigError, DataError
from tests.data.cinc_fixtures import CINC_LEADS
from tests.data.wfdb_fixtures import random_digital, write_digital, write_ptb_record

WFDB = DATASETS.get("wfdb")


def manifest_notes(prepared_path: Path) -> dict[str, str]:
    manifest = json.loads((prepared_path / "manifest.json").read_text())
    return {note["record"]: note["note"] for note in manifest["notes"]}


def test_ptb_diagnostic_records_are_read_as_wfdb_reads_them(
    tmp_path: Path, cache_root: Path
) -> None:
    root = tmp_path / "ptbdb"
    paths = [
        write_ptb_record(root, "patient001", "s0010_re", random_digital(0, 15, 3000)),
        write_ptb_record(root, "patient002", "s0014lre", random_digital(1, 15, 2000)),
    ]
    prepared = WFDB.prepare(root, 1000, cache_root, jobs=1)
    data = prepared.data
    assert list(data.meta["record"]) == ["patient001/s0010_re", "patient002/s0014lre"]
    for row, path in enumerate(paths):
        theirs = wfdb.rdrecord(str(path))  # reads both files: 15 signals
        assert theirs.sig_name[12:] == ["vx", "vy", "vz"]
        expected = theirs.p_signal[:, :12].T.astype(np.float32)
        np.testing.assert_allclose(data.signals.record(row), expected, rtol=1e-6)
    assert list(data.meta["note"]) == ["dropped signals vx, vy, vz"] * 2
    assert set(manifest_notes(prepared.path).values()) == {"dropped signals vx, vy, vz"}
    assert list(data.meta["age"]) == [81, 81] and list(data.meta["sex"]) == ["F", "F"]


def test_skipping_every_record_says_why_each_went(tmp_path: Path, cache_root: Path) -> None:
    root = tmp_path / "mine"
    ptb = write_ptb_record(root, "patient001", "s0010_re", random_digital(0, 15, 3000))
    dat = ptb.with_suffix(".dat")
    dat.write_bytes(dat.read_bytes()[:5000])
    write_digital(root, "r1", random_digital(1, 12, 2500), CINC_LEADS, 1000, "1000", "mV")
    (root / "r1.dat").write_bytes((root / "r1.dat").read_bytes()[:1000])
    with pytest.raises(DataError) as error:
        WFDB.prepare(root, 1000, cache_root, jobs=1, on_bad_record="skip")
    message = str(error.value)
    assert message.startswith(f"no usable wfdb records under {root}\n2 of 2 wfdb records")
    assert "patient001/s0010_re: truncated s0010_re.dat: 5000 bytes, expected 72000" in message
    assert "r1: truncated r1.dat: 1000 bytes, expected 60000" in message


def test_a_failed_prepare_leaves_no_folder_behind(tmp_path: Path) -> None:
    root = tmp_path / "mine"
    write_digital(root, "r1", random_digital(1, 12, 2500), CINC_LEADS, 1000, "1000", "mV")
    (root / "r1.dat").write_bytes((root / "r1.dat").read_bytes()[:1000])
    cache = tmp_path / "new" / "cache"
    with pytest.raises(DataError, match=r"truncated r1\.dat"):
        WFDB.prepare(root, 1000, cache, jobs=1)
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize(
    ("unit", "gain", "per_mv"),
    [("mV", "1000", 1.0), ("mv", "1000", 1.0), ("uV", "1", 1e3), ("µV", "1", 1e3),
     ("V", "1000000", 1e-3)],
)  # fmt: skip
def test_units_are_converted_to_mv_with_a_note(
    tmp_path: Path, cache_root: Path, unit: str, gain: str, per_mv: float
) -> None:
    millivolts = random_digital(0, 12, 2500) / 1000.0  # on the 1 µV grid: exact in every unit
    digital = np.round(millivolts * per_mv * float(gain)).astype(np.int16)
    write_digital(tmp_path / "mine", "r1", digital, CINC_LEADS, 500, gain, unit)
    prepared = WFDB.prepare(tmp_path / "mine", 500, cache_root, jobs=1)
    np.testing.assert_allclose(prepared.data.signals[0], millivolts, atol=1e-6)
    converted = "" if unit.lower() == "mv" else f"converted {unit} to mV"
    assert prepared.data.meta["note"].tolist() == [converted]
    assert manifest_notes(prepared.path) == ({"r1": converted} if converted else {})


def test_an_unknown_unit_is_a_bad_record(tmp_path: Path, cache_root: Path) -> None:
    write_digital(tmp_path / "mine", "r1", random_digital(0, 12, 2500), CINC_LEADS, 500, "1", "nV")
    with pytest.raises(DataError, match=r"lead I is in unit 'nV'; expected mV, uV \(µV\) or V"):
        WFDB.prepare(tmp_path / "mine", 500, cache_root, jobs=1)


def test_gain_zero_is_bad_unless_accepted(tmp_path: Path, cache_root: Path) -> None:
    root = tmp_path / "mine"
    digital = random_digital(0, 12, 2500)
    write_digital(root, "r0", digital, CINC_LEADS, 500, "0", "mV")
    write_digital(root, "r1", digital, CINC_LEADS, 500, "1000", "mV")
    with pytest.raises(DataError) as error:
        WFDB.prepare(root, 500, cache_root, jobs=1)
    assert "r0: r0.hea: uncalibrated (gain 0 or none) for lead(s) I, II, III" in str(error.value)
    assert "--uncalibrated accept" in str(error.value)
    skipped = WFDB.prepare(root, 500, cache_root, jobs=1, on_bad_record="skip")
    assert list(skipped.data.meta["record"]) == ["r1"]
    assert "uncalibrated" in skipped.skipped[0].reason
    accepted = WFDB.prepare(root, 500, cache_root, jobs=1, options={"uncalibrated": "accept"})
    assert accepted.path != skipped.path  # the choice is part of the cache's identity
    np.testing.assert_allclose(accepted.data.signals[0], digital / 200.0, atol=1e-6)
    note = manifest_notes(accepted.path)["r0"]
    assert note.startswith("uncalibrated lead(s) I, II, III") and "default gain 200" in note
    with pytest.raises(ConfigError, match="--uncalibrated 'yes': choose refuse or accept"):
        WFDB.prepare(root, 500, cache_root, options={"uncalibrated": "yes"})
