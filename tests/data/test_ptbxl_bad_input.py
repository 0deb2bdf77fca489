"""Bad PTB-XL input: one clear DataError (or a documented skip), never a partial cache."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from bench.data.loading import DATASETS
from bench.errors import DataError

PTBXL = DATASETS.get("ptbxl")


def assert_no_cache(cache_root: Path) -> None:
    """Neither a cache folder nor a temporary build folder was left behind."""
    folder = cache_root / "ptbxl"
    assert not folder.exists() or list(folder.iterdir()) == []


def remove_dat(fake, ecg_id: int) -> None:
    fake.record(ecg_id).with_suffix(".dat").unlink()


def remove_header(fake, ecg_id: int) -> None:
    fake.record(ecg_id).with_suffix(".hea").unlink()


def truncate_dat(fake, ecg_id: int) -> None:
    dat = fake.record(ecg_id).with_suffix(".dat")
    dat.write_bytes(dat.read_bytes()[:5000])


def add_nans(fake, ecg_id: int) -> None:
    signals = fake.random_signals()
    signals[0, :5] = np.nan
    fake.write_record(ecg_id, signals)


def eight_leads(fake, ecg_id: int) -> None:
    names = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")
    fake.write_record(ecg_id, fake.random_signals(8), lead_names=names)


def unknown_lead(fake, ecg_id: int) -> None:
    names = ("I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "X9")
    fake.write_record(ecg_id, fake.random_signals(), lead_names=names)


def wrong_rate(fake, ecg_id: int) -> None:
    fake.write_record(ecg_id, fake.random_signals(), fs=500)


def wrong_length(fake, ecg_id: int) -> None:
    fake.write_record(ecg_id, fake.random_signals(12, 900))


def bad_fold(fake, ecg_id: int) -> None:
    table = fake.database()
    table.loc[table.ecg_id == ecg_id, "strat_fold"] = 11
    fake.write_database(table)


def bad_scp_codes(fake, ecg_id: int) -> None:
    table = fake.database()
    table.loc[table.ecg_id == ecg_id, "scp_codes"] = "not a dict"
    fake.write_database(table)


BAD_RECORDS = {
    "missing .dat": (remove_dat, "missing on disk: 00003_lr.dat"),
    "missing header": (remove_header, "missing on disk: 00003_lr.hea"),
    "truncated": (truncate_dat, "truncated 00003_lr.dat: 5000 bytes, expected 24000"),
    "nan": (add_nans, "contains 5 NaN samples"),
    "fewer leads": (eight_leads, "has 8 leads, missing III, aVR, aVL, aVF"),
    "unknown lead": (unknown_lead, r"unknown lead names \['X9'\]"),
    "wrong rate": (wrong_rate, "sampling rate 500 Hz in its header, but its folder holds 100"),
    "wrong length": (wrong_length, "wrong length: 900 samples, expected 1000"),
    "bad fold": (bad_fold, "strat_fold 11 is not one of 1-10"),
    "bad scp_codes": (bad_scp_codes, "scp_codes 'not a dict' is not a dict"),
}


@pytest.mark.parametrize("case", BAD_RECORDS)
def test_bad_record_fails_by_default_and_is_skipped_on_request(
    fake_ptbxl, cache_root, case
) -> None:
    damage, reason = BAD_RECORDS[case]
    fake = fake_ptbxl(n_records=4)
    damage(fake, 3)
    with pytest.raises(DataError, match=reason) as caught:
        PTBXL.prepare(fake.root, 100, cache_root, jobs=1)
    message = str(caught.value)
    assert "1 of 4 PTB-XL records" in message
    assert "ecg_id 3 (records100/00000/00003_lr)" in message
    assert "--skip-bad-records" in message
    assert_no_cache(cache_root)

    prepared = PTBXL.prepare(fake.root, 100, cache_root, jobs=1, on_bad_record="skip")
    assert prepared.data.meta["record_id"].tolist() == [1, 2, 4]
    for row, ecg_id in enumerate((1, 2, 4)):
        np.testing.assert_array_equal(prepared.data.signals[row], fake.signals[ecg_id])
    assert [bad.record_id for bad in prepared.skipped] == [3]
    manifest = json.loads((prepared.path / "manifest.json").read_text())
    assert manifest["records"] == 3
    assert [entry["record_id"] for entry in manifest["skipped"]] == [3]
    assert re.search(reason, manifest["skipped"][0]["reason"])


def test_skip_cache_is_reused_by_a_default_load(fake_ptbxl, cache_root) -> None:
    fake = fake_ptbxl(n_records=4)
    truncate_dat(fake, 2)
    PTBXL.prepare(fake.root, 100, cache_root, jobs=1, on_bad_record="skip")
    again = PTBXL.prepare(fake.root, 100, cache_root, jobs=1)
    assert not again.built
    assert [bad.record_id for bad in again.skipped] == [2]


def test_every_bad_record_is_listed_in_one_error(fake_ptbxl, cache_root) -> None:
    fake = fake_ptbxl(n_records=14)
    for ecg_id in range(1, 13):
        remove_dat(fake, ecg_id)
    with pytest.raises(DataError) as caught:
        PTBXL.prepare(fake.root, 100, cache_root, jobs=2)
    message = str(caught.value)
    assert "12 of 14 PTB-XL records" in message
    assert message.count("missing on disk") == 10
    assert "... and 2 more" in message
    assert_no_cache(cache_root)


def test_all_records_bad_and_skipped_is_an_error(fake_ptbxl, cache_root) -> None:
    fake = fake_ptbxl(n_records=2)
    remove_dat(fake, 1)
    remove_dat(fake, 2)
    with pytest.raises(DataError, match="no usable PTB-XL records"):
        PTBXL.prepare(fake.root, 100, cache_root, jobs=1, on_bad_record="skip")
    assert_no_cache(cache_root)


def test_every_row_with_bad_metadata(fake_ptbxl, cache_root) -> None:
    fake = fake_ptbxl(n_records=2)
    fake.write_database(fake.database().assign(strat_fold=0))
    with pytest.raises(DataError, match="2 of 2 PTB-XL records") as caught:
        PTBXL.prepare(fake.root, 100, cache_root)
    assert str(caught.value).count("strat_fold 0 is not one of 1-10") == 2
    with pytest.raises(DataError, match="no usable PTB-XL records"):
        PTBXL.prepare(fake.root, 100, cache_root, on_bad_record="skip")
    assert_no_cache(cache_root)


def test_missing_root(tmp_path, cache_root) -> None:
    with pytest.raises(DataError, match=f"PTB-XL root does not exist.*{tmp_path / 'nowhere'}"):
        PTBXL.prepare(tmp_path / "nowhere", 100, cache_root)


@pytest.mark.parametrize("table", ["ptbxl_database.csv", "scp_statements.csv"])
def test_missing_csv(fake_ptbxl, cache_root, table: str) -> None:
    fake = fake_ptbxl(n_records=2)
    (fake.root / table).unlink()
    with pytest.raises(DataError, match=f"PTB-XL table not found: .*{table}"):
        PTBXL.prepare(fake.root, 100, cache_root)
    assert_no_cache(cache_root)


def test_unreadable_csv(fake_ptbxl, cache_root) -> None:
    fake = fake_ptbxl(n_records=2)
    fake.database_csv.write_bytes(b"ecg_id,patient_id\n\xff\xfe\x80,\x81\n")
    with pytest.raises(DataError, match=r"ptbxl_database\.csv is unreadable"):
        PTBXL.prepare(fake.root, 100, cache_root)
    assert_no_cache(cache_root)


@pytest.mark.parametrize("column", ["strat_fold", "scp_codes", "filename_lr"])
def test_missing_column(fake_ptbxl, cache_root, column: str) -> None:
    fake = fake_ptbxl(n_records=2)
    fake.write_database(fake.database().drop(columns=column))
    with pytest.raises(DataError, match=f"ptbxl_database.csv has no column '{column}'"):
        PTBXL.prepare(fake.root, 100, cache_root)
    assert_no_cache(cache_root)


def test_missing_statement_column(fake_ptbxl, cache_root) -> None:
    fake = fake_ptbxl(n_records=2)
    path = fake.root / "scp_statements.csv"
    path.write_text(path.read_text().replace("diagnostic_class", "klass"))
    with pytest.raises(DataError, match=r"scp_statements\.csv has no column 'diagnostic_class'"):
        PTBXL.prepare(fake.root, 100, cache_root)
    assert_no_cache(cache_root)


def test_duplicate_ecg_id(fake_ptbxl, cache_root) -> None:
    fake = fake_ptbxl(n_records=3)
    table = fake.database()
    table.loc[2, "ecg_id"] = 1
    fake.write_database(table)
    with pytest.raises(DataError, match=r"ecg_id listed more than once: \[1\]"):
        PTBXL.prepare(fake.root, 100, cache_root)
    assert_no_cache(cache_root)


def test_no_records_folder(fake_ptbxl, cache_root) -> None:
    fake = fake_ptbxl(n_records=2)
    (fake.root / "records100").rename(fake.root / "elsewhere")
    with pytest.raises(DataError, match=r"no PTB-XL records folder: expected .*records100"):
        PTBXL.prepare(fake.root, 100, cache_root)
    assert_no_cache(cache_root)
