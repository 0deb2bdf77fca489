"""Paper-layout tables (per task: methods x label fractions) and the summary over tasks."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.stats import rankdata

from bench.cli import main
from bench.reporting.leaderboard import LeaderboardOptions, leaderboard_frame
from bench.reporting.outputs import write_paper_tables
from bench.reporting.paper import paper_tables, to_paper_latex, to_paper_markdown
from bench.reporting.summary import summary_frame
from tests.doubles.result_grid import FRACTIONS, METHODS, SEEDS, TASKS

OPTIONS = LeaderboardOptions(n_boot=200)


def test_paper_tables_are_methods_by_fractions_per_task(result_grid: Any) -> None:
    frame = leaderboard_frame(result_grid.results, OPTIONS)
    tables = list(paper_tables(frame))
    assert [key[2] for key, _, _ in tables] == list(TASKS)  # one linear-probe table per task
    for (_, _, task, protocol), title, table in tables:
        assert protocol == "linear" and title.startswith(f"{task} · linear probe")
        assert list(table.columns) == list(FRACTIONS)
        assert list(table.index) == ["alpha", "beta", "random_init"]  # baselines last
        for method in METHODS:
            for fraction in FRACTIONS:
                entry = table.loc[method, fraction]
                assert entry["mean"] == pytest.approx(result_grid.mean(method, task, fraction))
                values = [result_grid.scores[(method, task, fraction, s)] for s in SEEDS]
                assert entry["std"] == pytest.approx(np.std(values, ddof=1))
        assert all(table.loc["alpha", f]["best"] for f in FRACTIONS)


def test_markdown_and_latex_bold_the_best_of_each_fraction(result_grid: Any) -> None:
    frame = leaderboard_frame(result_grid.results, OPTIONS)
    markdown = to_paper_markdown(frame, "note")
    best = result_grid.mean("alpha", "task-a", 0.1)
    std = np.std([result_grid.scores[("alpha", "task-a", 0.1, s)] for s in SEEDS], ddof=1)
    assert "| Method | 10 % | 100 % |" in markdown
    assert f"**{best:.3f} ± {std:.3f}**" in markdown
    beta = result_grid.mean("beta", "task-b", 1.0)
    assert f"| beta | {result_grid.mean('beta', 'task-b', 0.1):.3f}" in markdown
    assert f"**{beta:.3f}" not in markdown
    latex = to_paper_latex(frame, "note")
    assert latex.count(r"\begin{tabular}{lcc}") == 2
    assert rf"\textbf{{{best:.3f} $\pm$ {std:.3f}}}" in latex
    assert latex.count(r"\midrule") == 4  # header rule + the rule above the baselines, x2


def test_summary_means_ranks_and_rank_ci(result_grid: Any) -> None:
    frame = leaderboard_frame(result_grid.results, OPTIONS)
    summary = summary_frame(frame, result_grid.results, n_boot=200)
    for fraction in FRACTIONS:
        rows = summary[summary["fraction"] == fraction].set_index("method")
        means = {m: [result_grid.mean(m, t, fraction) for t in TASKS] for m in METHODS}
        ranks = np.mean([rankdata([-means[m][i] for m in METHODS]) for i in range(2)], axis=0)
        for method, rank in zip(METHODS, ranks, strict=True):
            assert rows.loc[method, "mean_score"] == pytest.approx(np.mean(means[method]))
            assert rows.loc[method, "mean_rank"] == pytest.approx(rank)
            assert rows.loc[method, "n_tasks"] == len(TASKS)
            low, high = rows.loc[method, "rank_ci_low"], rows.loc[method, "rank_ci_high"]
            assert 1 <= low <= high <= len(METHODS)
        assert rows.loc["alpha", "best_rank"] and rows.loc["alpha", "best_score"]
        assert rows.loc["random_init", "mean_rank"] == 3.0  # far below the others on every task
    # alpha's advantage is large at 100 % labels: its rank never leaves 1 on any resample
    full = summary[summary["fraction"] == 1.0].set_index("method")
    assert (full.loc["alpha", "rank_ci_low"], full.loc["alpha", "rank_ci_high"]) == (1.0, 1.0)


def test_bench_leaderboard_paper_layout_writes_all_files(result_grid: Any, capsys: Any) -> None:
    assert main(["leaderboard", "--layout", "paper", "--n-boot", "100"]) == 0
    out = result_grid.results / "leaderboards"
    printed = capsys.readouterr().out.split()
    names = ["paper.md", "paper.csv", "paper.tex", "summary.md", "summary.csv", "summary.tex"]
    assert sorted(printed) == sorted(str(out / n) for n in names)
    wide = pd.read_csv(out / "paper.csv")
    assert list(wide.columns[:6]) == ["profile", "task_group", "task", "protocol", "method",
                                      "n_seeds"]  # fmt: skip
    alpha = wide[(wide["task"] == "task-b") & (wide["method"] == "alpha")].iloc[0]
    assert alpha["mean@10 %"] == pytest.approx(result_grid.mean("alpha", "task-b", 0.1))
    assert bool(alpha["best@100 %"]) and alpha["markers@100 %"] == "†"  # beats random_init
    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == len(METHODS) * len(FRACTIONS)
    assert "Mean rank [CI]" in (out / "summary.md").read_text()
    assert not (out / "leaderboard.md").exists()  # the paper layout only


def test_paper_tables_refuse_an_empty_selection(result_grid: Any) -> None:
    from bench.errors import DataError

    options = LeaderboardOptions(n_boot=50, protocols=("finetune",))
    with pytest.raises(DataError, match="no finished cells"):
        write_paper_tables(result_grid.results, options=options)
