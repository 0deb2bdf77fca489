"""Cross-dataset identity: a PTB-XL fixture and a CinC HR tranche of the same signals."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from bench.cli import main
from bench.data.identity import overlap, signal_fingerprint
from tests.data.cinc_fixtures import random_mv, write_cinc_record


def test_fingerprint_is_stable_and_discriminating() -> None:
    rng = np.random.default_rng(0)
    signals = random_mv(rng, 12, 5000).astype(np.float32)
    assert signal_fingerprint(signals, 500) == signal_fingerprint(signals.copy(), 500)
    assert signal_fingerprint(signals, 500) == signal_fingerprint(signals + 1e-6, 500)
    assert signal_fingerprint(signals, 500) != signal_fingerprint(signals[:, ::-1], 500)
    assert signal_fingerprint(signals, 500) != signal_fingerprint(signals + 0.2, 500)


def test_overlap_counts_ids_and_fingerprints() -> None:
    result = overlap(
        [{"a:1"}, {"a:2"}, {"a:3"}], ["x", "y", "z"], [{"b:1", "a:1"}, {"a:2"}, {"b:3"}],
        ["x", "q", "z"],
    )  # fmt: skip
    assert (result.by_id, result.by_fingerprint, result.both) == (2, 2, 1)
    assert result.examples == (("a:1", "a:1"), ("a:3", "b:3"))


def test_bench_data_overlap_ptbxl_with_the_hr_tranche(fake_ptbxl, tmp_path: Path, capsys):
    fake = fake_ptbxl(n_records=6, rates=(500,))
    hr = tmp_path / "cinc" / "training" / "ptb-xl" / "g1"
    for ecg_id in (1, 2, 3, 4):  # four of the six PTB-XL records
        write_cinc_record(hr, f"HR{ecg_id:05d}", fake.signals[ecg_id].astype(np.float64))
    other = random_mv(np.random.default_rng(5), 12, 5000)
    write_cinc_record(hr, "HR00005", other)  # id of a PTB-XL record, different signals
    write_cinc_record(hr, "HR00099", other * 0.5)  # in neither
    cache = str(tmp_path / "cache")
    assert main(["data", "prepare", "ptbxl", "--root", str(fake.root), "--rate", "500",
                 "--cache", cache]) == 0  # fmt: skip
    assert main(["data", "prepare", "cinc2021", "--root", str(tmp_path / "cinc"), "--rate",
                 "500", "--cache", cache]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["data", "overlap", "ptbxl", "cinc2021", "--rate", "500", "--cache", cache]) == 0
    out = capsys.readouterr().out
    assert "overlap of ptbxl (6 records) with cinc2021 (6 records) at 500 Hz" in out
    assert re.search(r"by id mapping:\s+5", out)
    assert re.search(r"by fingerprint:\s+4", out)
    assert re.search(r"by both \(same record\): 4", out)
    assert "e.g. ptbxl:1 = cinc2021:HR00001" in out


def test_overlap_needs_one_rate(fake_ptbxl, tmp_path: Path, capsys) -> None:
    fake = fake_ptbxl(n_records=2, rates=(100,))
    hr = tmp_path / "cinc" / "ptb-xl"
    write_cinc_record(hr, "HR00001", fake.signals[1].astype(np.float64), rate=100)
    cache = str(tmp_path / "cache")
    main(["data", "prepare", "ptbxl", "--root", str(fake.root), "--cache", cache])
    main(["data", "prepare", "cinc2021", "--root", str(tmp_path / "cinc"), "--rate", "50",
          "--cache", cache])  # fmt: skip
    capsys.readouterr()
    assert main(["data", "overlap", "ptbxl", "cinc2021", "--cache", cache]) == 2
    assert "fingerprints compare caches of one rate" in capsys.readouterr().err
    assert main(["data", "overlap", "ptbxl", "cinc2021", "--rate", "250", "--cache", cache]) == 2
    assert "no prepared ptbxl cache at 250 Hz" in capsys.readouterr().err
