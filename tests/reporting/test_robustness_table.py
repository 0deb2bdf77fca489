"""The robustness table and figure: the main metric per noise level, per method, from result
files (mean ± std over runs), and nothing at all when no cell scored noise levels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.grid.provenance import collect_provenance
from bench.grid.results import CellResult, Predictions, write_result
from bench.reporting.robustness import robustness_frame, write_robustness

LEVELS = {"clean": 0.80, 1: 0.75, 6: 0.60}
N_TEST = 40


def write_cell(results: Path, method: str, seed: int, drop: float, noise: bool = True) -> None:
    truth = (np.arange(N_TEST)[:, None] % 2 == np.arange(2)).astype(np.float32)
    metrics: dict[str, object] = {"macro_auroc": LEVELS["clean"] - drop + 0.01 * seed}
    if noise:
        metrics["noise_metric"] = "macro_auroc"
        for level in (1, 6):
            metrics[f"noise_level_{level}"] = LEVELS[level] - drop + 0.01 * seed
    result = CellResult(
        eval_key=f"{method.replace('_', '')}-{seed}-{int(noise)}", pretrain_key=None,
        method=method, task="task-a", task_group="toys", protocol="linear", fraction=1.0,
        seed=seed, profile="smoke", label_names=("A", "B"), n_train=100, n_val=20,
        n_test=N_TEST, realised_fraction=1.0, config={}, provenance=collect_provenance("fp"),
        metrics=metrics,
    )  # fmt: skip
    write_result(results, result, Predictions(np.arange(N_TEST), truth, truth))


def test_table_and_figure_hold_each_methods_mean_per_level(tmp_path: Path) -> None:
    results = tmp_path / "results"
    for seed in (0, 1):
        write_cell(results, "random_init", seed, 0.2)
        write_cell(results, "alpha", seed, 0.0)
    frame = robustness_frame(results)
    assert list(frame["method"]) == ["alpha", "random_init"]  # baselines last
    alpha = frame.iloc[0]
    assert alpha["clean"] == pytest.approx(0.805) and alpha["level 6"] == pytest.approx(0.605)
    assert alpha["level 1_std"] == pytest.approx(np.std([0.75, 0.76], ddof=1))
    paths = write_robustness(results)
    names = {p.name for p in paths}
    assert {"robustness.md", "robustness.csv", "robustness.tex"} <= names
    assert "task-a_linear_100pct_smoke_robustness.png" in names
    assert (results / "figures" / "task-a_linear_100pct_smoke_robustness.pdf").stat().st_size > 0
    markdown = (results / "leaderboards" / "robustness.md").read_text()
    assert "| Method | clean | level 1 | level 6 |" in markdown
    assert "| alpha | 0.805 ± 0.007 | 0.755 ± 0.007 | 0.605 ± 0.007 |" in markdown
    assert "macro_auroc (higher is better)" in markdown
    table = pd.read_csv(results / "leaderboards" / "robustness.csv")
    assert table.loc[table["method"] == "random_init", "level 6"].item() == pytest.approx(0.405)
    assert r"\toprule" in (results / "leaderboards" / "robustness.tex").read_text()


def test_nothing_is_written_without_noise_levels(tmp_path: Path) -> None:
    results = tmp_path / "results"
    write_cell(results, "alpha", 0, 0.0, noise=False)
    assert robustness_frame(results).empty
    assert write_robustness(results) == []
    assert not (results / "leaderboards").exists()
