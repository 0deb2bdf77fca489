"""`bench data prepare` / `bench data info` on a variable-length dataset (CinC layout)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.cli import main
from tests.data.cinc_fixtures import random_mv, write_cinc_record, write_cinc_tree

TREE = {"A0001": (500, 3000), "S0001": (1000, 8000), "I0001": (257, 2570), "E00001": (500, 5000)}


def test_prepare_prints_the_summary_and_info_repeats_it(tmp_path: Path, capsys) -> None:
    root = tmp_path / "cinc"
    write_cinc_tree(root, TREE)
    write_cinc_record(
        root / "training" / "georgia" / "g1", "E00002",
        random_mv(np.random.default_rng(3), 12, 100), comments=("Dx: x",),
    )  # fmt: skip
    cache = str(tmp_path / "cache")
    argv = ["data", "prepare", "cinc2021", "--root", str(root), "--cache", cache, "--jobs", "1"]
    assert main([*argv, "--skip-bad-records"]) == 0
    out = capsys.readouterr().out
    assert "cinc2021: cache built in" in out
    assert "4 records, 12 leads at 100 Hz" in out
    assert "records per source: cpsc 1, georgia 1, incart 1, ptb 1" in out
    assert "native rates: 257 Hz: 1, 500 Hz: 2, 1000 Hz: 1" in out
    assert "lengths (s): 6-10: 2, 10-11: 2 (min 6.0, max 10.0)" in out
    assert "classes: 2 (0 records without a label)" in out and "4  164889003" in out
    assert "notes: 1\n  S0001: dropped signals vx, vy, vz" in out
    assert "skipped records: 1\n  training/georgia/g1/E00002: E00002.hea: malformed" in out
    assert main(["data", "info", "cinc2021", "--cache", cache]) == 0
    info = capsys.readouterr().out
    assert info.split("\n", 1)[1] == out.split("\n", 1)[1]


def test_options_are_checked(tmp_path: Path, capsys) -> None:
    root = tmp_path / "cinc"
    write_cinc_tree(root, {"A0001": (500, 1000)})
    assert main(["data", "prepare", "cinc2021", "--root", str(root), "--sources", "mars"]) == 2
    assert "unknown CinC source(s) ['mars']" in capsys.readouterr().err
    assert main(["data", "prepare", "cinc2021", "--root", str(root), "--labels", "x.csv"]) == 2
    assert "cinc2021 has no option ['labels']" in capsys.readouterr().err
    assert main(["data", "info", "cinc2021", "--cache", str(tmp_path / "none")]) == 2
    assert "no prepared cinc2021 cache" in capsys.readouterr().err
