"""Leaderboards of a lower-is-better task: bold on the lowest MAE, markers for lower MAE."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.evaluation.kind_metrics import evaluate_regression
from bench.grid.provenance import collect_provenance
from bench.grid.results import CellResult, Predictions, write_result
from bench.reporting.formats import to_latex, to_markdown
from bench.reporting.leaderboard import LeaderboardOptions, leaderboard_frame
from bench.reporting.paper import to_paper_latex, to_paper_markdown
from bench.reporting.summary import summary_frame, to_summary_markdown

N_TEST = 200
ERRORS = {"good": 1.0, "poor": 8.0, "random_init": 6.0}  # prediction noise SD (years)


def write_age_grid(results: Path) -> dict[str, float]:
    truth = np.random.default_rng(0).uniform(20, 80, (N_TEST, 1)).astype(np.float32)
    means = {}
    for m, (method, sd) in enumerate(ERRORS.items()):
        maes = []
        for seed in (0, 1):
            pred = truth + np.random.default_rng([m, seed]).normal(0, sd, truth.shape)
            metrics = evaluate_regression(truth, pred, ["age"], n_boot=0).metrics
            metrics["main_metric"] = "mae"
            maes.append(metrics["mae"])
            result = CellResult(
                eval_key=f"{method}{seed}".replace("_", ""), pretrain_key=None, method=method,
                task="age", task_group="age", protocol="linear", fraction=1.0, seed=seed,
                profile="smoke", label_names=("age",), n_train=100, n_val=40, n_test=N_TEST,
                realised_fraction=1.0, config={}, provenance=collect_provenance("fp"),
                metrics=metrics, timings={"total_s": 1.0},
            )  # fmt: skip
            write_result(results, result, Predictions(np.arange(N_TEST), truth, pred))
        means[method] = float(np.mean(maes))
    return means


def test_lowest_mae_is_best_and_marked_significant(tmp_path: Path) -> None:
    means = write_age_grid(tmp_path / "results")
    frame = leaderboard_frame(tmp_path / "results", LeaderboardOptions(n_boot=200))
    rows = frame.set_index("method")
    assert rows.loc["good", "best"] and not rows.loc["poor", "best"]
    assert rows.loc["good", "mean"] == means["good"] < means["random_init"] < means["poor"]
    assert not rows["higher_is_better"].any() and set(rows["main_metric"]) == {"mae"}
    assert rows.loc["good", "diff_vs_random_init"] < 0  # raw difference in years
    assert "†" in rows.loc["good", "markers"] and "†" not in rows.loc["poor", "markers"]
    assert rows.loc["good", "ci_low"] < rows.loc["good", "mean"] < rows.loc["good", "ci_high"]
    text = to_markdown(frame, "")
    assert "mae (lower is better)" in text and f"**{means['good']:.3f}" in text


def test_the_summary_ranks_the_lowest_mae_first_and_names_the_metric(tmp_path: Path) -> None:
    write_age_grid(tmp_path / "results")
    options = LeaderboardOptions(n_boot=100)
    frame = leaderboard_frame(tmp_path / "results", options)
    summary = summary_frame(frame, tmp_path / "results", n_boot=100).set_index("method")
    assert summary.loc["good", "mean_rank"] == 1.0 and summary.loc["poor", "mean_rank"] == 3.0
    assert summary.loc["good", "rank_ci_high"] < 2.0  # resampled ranks follow the direction
    assert summary.loc["good", "best_score"] and not summary.loc["poor", "best_score"]
    assert set(summary["metric"]) == {"mae"}
    assert "| Method | Tasks | Mean MAE | Mean rank [CI] |" in to_summary_markdown(
        summary.reset_index(), ""
    )


def test_paper_headings_name_a_metric_other_than_macro_auroc(tmp_path: Path) -> None:
    """The paper tables' note reads "macro AUROC unless the heading names another" (issue 25:
    ludb-intervals showed R² under a heading that named nothing)."""
    write_age_grid(tmp_path / "results")
    frame = leaderboard_frame(tmp_path / "results", LeaderboardOptions(n_boot=50))
    markdown = to_paper_markdown(frame, "")
    assert "## age · linear probe (age, profile smoke) · mae (lower is better)" in markdown
    latex = to_paper_latex(frame, "")
    assert "mae (lower is better) by label fraction" in latex and "macro AUROC" not in latex
    assert "macro AUROC" not in to_latex(frame, "")
