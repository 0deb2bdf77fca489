"""`bench data prepare` / `bench data download` through the real command line."""

from __future__ import annotations

import re

import pytest

from bench.cli import main
from bench.data.loading import DATASETS


def test_prepare_builds_then_reuses_and_summarises(fake_ptbxl, tmp_path, capsys) -> None:
    fake = fake_ptbxl(n_records=6)
    argv = ["data", "prepare", "ptbxl", "--root", str(fake.root), "--cache", str(tmp_path / "c")]
    assert main(argv) == 0
    first = capsys.readouterr().out
    assert main([*argv[:3], "--data-root", *argv[4:], "--jobs", "1"]) == 0
    second = capsys.readouterr().out
    assert "ptbxl: cache built in" in first
    assert "ptbxl: cache reused in" in second
    assert "6 records, 12 leads x 1000 samples at 100 Hz" in first
    assert "1: 1  2: 1  3: 1  4: 1  5: 1  6: 1" in first
    assert "train 6, val 0, test 0" in first
    # fake records: NORM+SR, IMI+NDT+AFIB, SR (cycled twice)
    assert re.search(r"ptbxl-superdiagnostic\s+3 classes\s+4 records", first)
    assert re.search(r"ptbxl-rhythm\s+2 classes\s+6 records", first)
    assert re.search(r"ptbxl-form\s+1 classes\s+2 records", first)
    assert re.search(r"ptbxl-all\s+5 classes\s+6 records", second)
    assert re.search(r"ptbxl-age\s+1 targets\s+\d+ records", first)  # regression: targets


def test_prepare_uses_the_environment_root(fake_ptbxl, monkeypatch, capsys) -> None:
    fake = fake_ptbxl(n_records=2)
    monkeypatch.setenv("BENCH_PTBXL_ROOT", str(fake.root))
    assert main(["data", "prepare", "ptbxl"]) == 0
    assert "2 records" in capsys.readouterr().out


def test_prepare_reports_bad_records_or_skips_them(fake_ptbxl, tmp_path, capsys) -> None:
    fake = fake_ptbxl(n_records=3)
    fake.record(2).with_suffix(".dat").unlink()
    argv = ["data", "prepare", "ptbxl", "--root", str(fake.root), "--cache", str(tmp_path / "c")]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert "ecg_id 2 (records100/00000/00002_lr): missing on disk" in error
    assert "--skip-bad-records" in error
    assert main([*argv, "--skip-bad-records"]) == 0
    out = capsys.readouterr().out
    assert "2 records" in out
    assert "1 bad records were skipped" in out and "2 (records100/00000/00002_lr)" in out


def test_prepare_without_root_names_the_variable(monkeypatch, capsys) -> None:
    monkeypatch.delenv("BENCH_PTBXL_ROOT", raising=False)
    assert main(["data", "prepare", "ptbxl"]) == 2
    error = capsys.readouterr().err
    assert "BENCH_PTBXL_ROOT" in error and "--data-root" in error


def test_unknown_dataset_gets_a_hint(capsys) -> None:
    assert main(["data", "prepare", "ptbxk", "--root", "."]) == 2
    assert "did you mean 'ptbxl'" in capsys.readouterr().err.lower()


def test_download_offline_fails_with_one_line(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(type(DATASETS.get("ptbxl")), "archive_url", "http://127.0.0.1:9/x.zip")
    assert main(["data", "download", "ptbxl", "--dest", str(tmp_path / "d")]) == 2
    error = capsys.readouterr().err
    assert "cannot reach http://127.0.0.1:9/x.zip" in error


@pytest.mark.parametrize("option", [["--rate", "0"], ["--jobs", "0"]])
def test_bad_options_are_rejected(fake_ptbxl, option: list[str], capsys) -> None:
    fake = fake_ptbxl(n_records=1)
    assert main(["data", "prepare", "ptbxl", "--root", str(fake.root), *option]) == 2
    assert f"{option[0]} = 0 is out of range" in capsys.readouterr().err
