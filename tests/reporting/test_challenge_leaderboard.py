"""The normalised Challenge score beside macro AUROC in the leaderboards (CSV columns and a
Markdown table under each table holding a CinC task), from hand-made cells and from a real grid
on the generated CinC tree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bench.cli import main
from bench.grid.provenance import collect_provenance
from bench.grid.results import CellResult, Predictions, load_results, write_result
from bench.reporting.leaderboard import write_leaderboards
from tests.doubles.cinc_tasks import write_labelled_tree
from tests.doubles.grid import FAST_SETS

N_TEST = 60


def write_cell(results: Path, task: str, method: str, seed: int, score: float | None) -> None:
    truth = (np.random.default_rng(len(task)).random((N_TEST, 3)) < 0.4).astype(np.float32)
    rng = np.random.default_rng(seed)
    metrics: dict[str, object] = {"macro_auroc": 0.7}
    if task == "cinc2021":
        metrics["challenge_score"] = score
    result = CellResult(
        eval_key=f"{task}-{method.replace('_', '')}-{seed}", pretrain_key=None, method=method,
        task=task, task_group="mixed", protocol="linear", fraction=1.0, seed=seed,
        profile="smoke", label_names=("A", "B", "C"), n_train=100, n_val=20, n_test=N_TEST,
        realised_fraction=1.0, config={}, provenance=collect_provenance("fp"), metrics=metrics,
    )  # fmt: skip
    write_result(
        results, result, Predictions(np.arange(N_TEST), truth, truth + rng.random(truth.shape))
    )


def test_challenge_scores_are_averaged_per_entry_and_tabled_beside_auroc(tmp_path: Path) -> None:
    results = tmp_path / "results"
    for seed, (a, b) in enumerate([(0.40, 0.20), (0.50, 0.30)]):
        write_cell(results, "cinc2021", "alpha", seed, a)
        write_cell(results, "cinc2021", "random_init", seed, b)
        write_cell(results, "other", "alpha", seed, None)
    paths = write_leaderboards(results)
    board = pd.read_csv(paths["csv"])
    cinc = board[board["task"] == "cinc2021"].set_index("method")
    assert cinc.loc["alpha", "challenge_score"] == pytest.approx(0.45)
    assert cinc.loc["alpha", "challenge_score_std"] == pytest.approx(np.std([0.4, 0.5], ddof=1))
    assert cinc.loc["random_init", "challenge_score"] == pytest.approx(0.25)
    assert board.loc[board["task"] == "other", "challenge_score"].isna().all()
    text = paths["markdown"].read_text()
    assert "· normalised Challenge score" in text
    section = text.split("· normalised Challenge score", 1)[1]
    assert "| Method | Seeds | cinc2021 |" in section  # only the tasks that have the score
    assert "| alpha | 2 | 0.450 ± 0.071 |" in section
    assert "| random_init | 2 | 0.250 ± 0.071 |" in section


@pytest.mark.slow
def test_a_cinc_grid_shows_its_challenge_scores_in_the_leaderboard(
    toys: Any, tmp_path: Path, isolated_results: Path
) -> None:
    tree = tmp_path / "cinc"
    write_labelled_tree(tree, per_prefix=40, seconds=3.0)
    args = ["run", "--methods", "toy_masked", "random_init", "--tasks", "cinc2021"]
    args += ["--data-root", f"cinc2021={tree}", "--fractions", "1.0", "--seeds", "2"]
    args += ["--protocols", "linear", "--no-progress", "--jobs", "1", "--no-tracking"]
    for item in FAST_SETS:
        args += ["--set", item]
    assert main(args) == 0
    cells = load_results(isolated_results, status="ok")
    board = pd.read_csv(isolated_results / "leaderboards" / "leaderboard.csv")
    for method in ("toy_masked", "random_init"):
        scores = [c.metrics["challenge_score"] for c in cells if c.method == method]
        row = board[board["method"] == method]
        assert len(scores) == 2 and row["challenge_score"].item() == pytest.approx(np.mean(scores))
    text = (isolated_results / "leaderboards" / "leaderboard.md").read_text()
    assert "· normalised Challenge score" in text and "| cinc2021 |" in text
