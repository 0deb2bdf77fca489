"""Issue 25's run, in small: `bench run --methods cpc random_init --tasks cinc2021` on a
50-record CinC sample. Every cell runs (the profile's batch of 64 capped to the training
records, with a note), and the leaderboard shows the test fold's size and classes and draws no
significance marker on a test fold that small."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.cli import main
from bench.grid.results import load_results
from tests.doubles.cinc_tasks import write_labelled_tree
from tests.doubles.grid import FAST_SETS


def test_a_small_cinc_grid_shows_its_test_size_and_no_marker(
    tmp_path: Path, isolated_results: Path
) -> None:
    tree = tmp_path / "cinc"
    write_labelled_tree(tree, per_prefix=14, seconds=3.0)  # 56 records, 50 with a scored code
    args = ["run", "--methods", "cpc", "random_init", "--tasks", "cinc2021"]
    args += ["--data-root", f"cinc2021={tree}", "--fractions", "1.0", "--seeds", "2"]
    args += ["--protocols", "linear", "--no-progress", "--jobs", "1", "--no-tracking"]
    for item in FAST_SETS:
        if ".batch_size=" not in item:  # the profile's 64: more than the training records
            args += ["--set", item]
    assert main(args) == 0
    cells = load_results(isolated_results, status="ok")
    assert len(cells) == 4
    n_test = cells[0].test_sample["n_records"]
    assert all(c.test_sample["n_records"] == n_test == c.n_test for c in cells)
    scored = len(cells[0].test_sample["scored"])
    assert 0 < scored < 26 and len(cells[0].test_sample["left_out"]) == 26 - scored
    cpc = next(c for c in cells if c.method == "cpc")
    assert "capped to" in cpc.pretraining["notes"][0]
    board = (isolated_results / "leaderboards" / "leaderboard.md").read_text()
    assert f"| *test set* | | {n_test} records · {scored}/26 classes ◦ |" in board
    table = board.split("The task's main metric")[0]
    assert "†" not in table and "‡" not in table
    assert "cinc2021 (profile smoke): " in board and "no positive in the test fold" in board
    csv = pd.read_csv(isolated_results / "leaderboards" / "leaderboard.csv")
    assert csv["too_small"].str.contains(f"{n_test} test records").all()
    assert csv["p_vs_random_init"].isna().all()
