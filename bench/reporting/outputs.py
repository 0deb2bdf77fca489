"""The paper-layout files: per-task tables (``paper.*``) and the summary over tasks
(``summary.*``), each as Markdown, CSV and LaTeX, from one leaderboard frame (``paper_auprc.*``
and ``summary_auprc.*`` for the AUPRC tables)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.atomic import atomic_write
from bench.errors import DataError
from bench.reporting.cell_scores import ScoreChoice
from bench.reporting.formats import metric_file_name, metric_note
from bench.reporting.leaderboard import LeaderboardOptions, leaderboard_frame
from bench.reporting.paper import paper_note, to_paper_csv, to_paper_latex, to_paper_markdown
from bench.reporting.summary import (
    summary_frame,
    summary_note,
    to_summary_latex,
    to_summary_markdown,
)

PAPER_FILES = {"markdown": "paper.md", "csv": "paper.csv", "latex": "paper.tex"}
SUMMARY_FILES = {"markdown": "summary.md", "csv": "summary.csv", "latex": "summary.tex"}


def write_paper_tables(
    results_dir: str | Path,
    out_dir: str | Path | None = None,
    options: LeaderboardOptions | None = None,
    frame: pd.DataFrame | None = None,
    summary: pd.DataFrame | None = None,
) -> dict[str, Path]:
    """Write paper.md/.csv/.tex and summary.md/.csv/.tex (default: <results>/leaderboards)
    from ``frame`` and ``summary`` (each computed with ``options`` when None; with
    ``options.metric`` "macro_auprc", paper_auprc.* and summary_auprc.*); returns the paths by
    file name."""
    options = options or LeaderboardOptions()
    frame = leaderboard_frame(results_dir, options) if frame is None else frame
    if frame.empty:
        raise DataError(
            f"no finished cells under {Path(results_dir) / 'runs'} match the requested "
            "protocols, label budgets and metric; run `bench run` first"
        )
    if summary is None:
        choice = ScoreChoice(options.metric, options.min_positives)
        summary = summary_frame(
            frame, results_dir, options.n_boot, options.boot_seed, options.level,
            options.eval_keys, choice,
        )  # fmt: skip
    extra = metric_note(options.metric, options.min_positives)
    note = paper_note(int(frame["n_seeds"].max())) + extra
    totals = summary_note(options.level, options.n_boot) + extra
    texts = {
        PAPER_FILES["markdown"]: to_paper_markdown(frame, note),
        PAPER_FILES["csv"]: to_paper_csv(frame),
        PAPER_FILES["latex"]: to_paper_latex(frame, note),
        SUMMARY_FILES["markdown"]: to_summary_markdown(summary, totals),
        SUMMARY_FILES["csv"]: summary.to_csv(index=False),
        SUMMARY_FILES["latex"]: to_summary_latex(summary, totals),
    }
    out = Path(out_dir) if out_dir is not None else Path(results_dir) / "leaderboards"
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, text in texts.items():
        path = out / metric_file_name(name, options.metric)
        atomic_write(path, lambda f, text=text: f.write(text.encode()))
        paths[path.name] = path
    return paths
