"""Leaderboard entries over pretraining seeds x fraction seeds, and the redrawn resamples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.evaluation.bootstrap import valid_resamples
from bench.evaluation.metrics import evaluate_cell
from bench.grid.provenance import collect_provenance
from bench.grid.results import CellResult, Predictions, write_result
from bench.reporting.leaderboard import LeaderboardOptions, leaderboard_frame, write_leaderboards

N_TEST, N_BOOT = 150, 300
OFFSETS = {0: 0.0, 1: 2.0}  # pretraining seed 1 gives a much better encoder than seed 0


def _write(
    results: Path, method: str, pretrain_seed: int, seed: int, y: np.ndarray, scores: np.ndarray
) -> None:
    names = tuple(f"c{c}" for c in range(y.shape[1]))
    ids = np.arange(len(y))
    cell = evaluate_cell(y, scores, y, scores, names, test_record_ids=ids, n_boot=20)
    result = CellResult(
        eval_key=f"{method}-p{pretrain_seed}-s{seed}", pretrain_key=None, method=method,
        task="rhythm", task_group="ptbxl", protocol="linear", fraction=0.1, seed=seed,
        profile="smoke", label_names=names, n_train=10, n_val=10, n_test=len(y),
        realised_fraction=0.1, config={}, provenance=collect_provenance("fp"),
        metrics=cell.metrics, ci=cell.ci, pretrain_seed=pretrain_seed,
    )  # fmt: skip
    write_result(results, result, Predictions(ids, y, scores))


@pytest.fixture(scope="module")
def grid(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    results = tmp_path_factory.mktemp("runs")
    rng = np.random.default_rng(0)
    y = (rng.random((N_TEST, 3)) < 0.3).astype(int)
    y[:, 2] = 0
    y[:2, 2] = 1  # a class with two positives: many plain resamples miss it
    for pretrain_seed, offset in OFFSETS.items():
        for seed in range(3):
            good = (0.5 + offset) * y + rng.normal(size=y.shape)
            _write(results, "good", pretrain_seed, seed, y, good)
            _write(results, "random_init", pretrain_seed, seed, y, rng.normal(size=y.shape))
    return results, y


def test_every_run_counts_and_the_ci_holds_the_pretraining_spread(
    grid: tuple[Path, np.ndarray],
) -> None:
    frame = leaderboard_frame(grid[0], LeaderboardOptions(n_boot=N_BOOT))
    good = frame.set_index("method").loc["good"]
    assert (good["n_pretrain_seeds"], good["n_seeds"]) == (2, 3)
    assert good["pretrain_seeds"] == "0;1" and good["seeds"] == "0;1;2"
    by_seed = [
        leaderboard_frame(grid[0], LeaderboardOptions(n_boot=N_BOOT, eval_keys=frozenset(
            f"{m}-p{p}-s{s}" for m in ("good", "random_init") for s in range(3)
        ))).set_index("method").loc["good", "mean"]
        for p in OFFSETS
    ]  # fmt: skip
    assert good["mean"] == pytest.approx(np.mean(by_seed))
    assert by_seed[1] - by_seed[0] > 0.15
    # the interval spans the two pretraining seeds' levels, not just test-record noise
    assert good["ci_low"] < by_seed[0] + 0.02 and good["ci_high"] > by_seed[1] - 0.02


def test_redrawn_resamples_are_counted(grid: tuple[Path, np.ndarray]) -> None:
    frame = leaderboard_frame(grid[0], LeaderboardOptions(n_boot=N_BOOT))
    expected = valid_resamples(grid[1], N_BOOT, 0).n_redrawn
    assert expected > 50
    assert (frame["n_redrawn"] == expected).all() and (frame["n_partial"] == 0).all()


def test_tables_show_pretraining_x_fraction_seeds(grid: tuple[Path, np.ndarray]) -> None:
    paths = write_leaderboards(grid[0], options=LeaderboardOptions(n_boot=50))
    assert "| good | 2×3 |" in paths["markdown"].read_text()
    csv = pd.read_csv(paths["csv"])
    assert {"p_adj_vs_random_init", "n_redrawn", "n_pretrain_seeds"} <= set(csv.columns)
