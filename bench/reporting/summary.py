"""The summary over tasks, per protocol and label budget (a label fraction, or K shots per
class): each method's mean main metric (or the leaderboard frame's chosen number) over
the tasks (where they share one; ``metric`` "mixed" and no mean otherwise) and its mean rank
among the methods, with a bootstrap CI of the mean rank.

Ranks are taken per task among the methods (and baselines) with an entry there, 1 = best in the
task's direction (lowest MAE, highest AUROC), ties shared (average rank), and averaged over the
method's tasks. The CI resamples each task's test records with the fixed indices of
``bench.evaluation.bootstrap.bootstrap_indices`` (the same for every method of a task,
independent across tasks): on each resample every method's seed-mean main metric is re-scored,
the methods re-ranked per task, and the ranks averaged over tasks; the percentile interval of
those mean ranks is the CI.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from bench.evaluation.bootstrap import bootstrap_indices, percentile_ci
from bench.grid.results import CellResult, load_predictions, load_results
from bench.reporting.cell_scores import ScoreChoice
from bench.reporting.corpus_rows import row_name
from bench.reporting.formats import (
    METRIC_LABELS,
    PROTOCOL_NAMES,
    budget_label,
    latex_escape,
    protocol_rank,
)
from bench.reporting.paper import row_label
from bench.task import METRIC_DIRECTIONS

SUMMARY_COLUMNS = (
    "profile", "protocol", "fraction", "shots", "method", "is_baseline", "n_tasks", "metric",
    "mean_score", "mean_rank", "rank_ci_low", "rank_ci_high", "rank_ci_level", "best_score",
    "best_rank",
)  # fmt: skip
BUDGET = ["profile", "protocol", "fraction", "shots"]  # one summary table each
CellKey = tuple[str, str, str, float, int, str]  # profile, task, protocol, fraction, shots, method


def summary_frame(
    frame: pd.DataFrame,
    results_dir: str | Path,
    n_boot: int,
    boot_seed: int = 0,
    level: float = 0.9,
    eval_keys: frozenset[str] | None = None,
    choice: ScoreChoice | None = None,
) -> pd.DataFrame:
    """One row per (profile, protocol, label budget, method) of the leaderboard ``frame``
    (built with ``choice``, the number its entries hold: the main metric by default)."""
    cells: dict[CellKey, dict[int, CellResult]] = {}
    for result in load_results(results_dir, status="ok", skip_invalid=True, eval_keys=eval_keys):
        key = (result.profile, result.task, result.protocol, float(result.fraction))
        key += (int(result.shots or 0), row_name(result))
        cells.setdefault(key, {})[result.seed] = result
    sampler = _Samples(Path(results_dir), n_boot, boot_seed, choice or ScoreChoice())
    rows = []
    for (profile, protocol, fraction, shots), part in frame.groupby(BUDGET):
        labels = {m: row_label(e) for m, e in part.groupby("method")}
        ranks: dict[str, list[float]] = {m: [] for m in labels}
        boot: dict[str, list[np.ndarray]] = {m: [] for m in labels}
        metrics = set(part["main_metric"])
        metric = metrics.pop() if len(metrics) == 1 else "mixed"
        for task, entries in part.groupby("task"):
            methods = list(entries["method"])
            sign = 1.0 if bool(entries["higher_is_better"].iloc[0]) else -1.0
            observed = rankdata(-sign * entries["mean"].to_numpy())
            samples = []
            for _, entry in entries.iterrows():
                key = (profile, task, entry["method_protocol"], float(fraction), int(shots))
                key += (entry["method"],)
                seeds = [int(s) for s in str(entry["seeds"]).split(";")]
                samples.append(np.mean([sampler.get(cells[key][s]) for s in seeds], axis=0))
            signed = np.nan_to_num(sign * np.stack(samples), nan=-np.inf)
            resampled = rankdata(-signed, axis=0)
            for i, method in enumerate(methods):
                ranks[method].append(float(observed[i]))
                boot[method].append(resampled[i])
        for method, entries in part.groupby("method"):
            low, high = percentile_ci(np.mean(boot[method], axis=0), level)
            rows.append({
                "profile": profile, "protocol": protocol, "fraction": fraction, "shots": shots,
                "method": labels[method], "is_baseline": bool(entries["is_baseline"].iloc[0]),
                "n_tasks": len(ranks[method]), "metric": metric,
                "mean_score": float(entries["mean"].mean()) if metric != "mixed" else np.nan,
                "mean_rank": float(np.mean(ranks[method])), "rank_ci_low": low,
                "rank_ci_high": high, "rank_ci_level": level,
            })  # fmt: skip
    summary = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    keys = [summary[c] for c in BUDGET]
    lower = summary["metric"].map(lambda m: m in METRIC_DIRECTIONS and not METRIC_DIRECTIONS[m])
    score = summary["mean_score"].round(3) * np.where(lower, -1, 1)
    rank = summary["mean_rank"].round(2)
    summary["best_score"] = score == score.groupby(keys).transform("max")
    summary["best_rank"] = rank == rank.groupby(keys).transform("min")
    return summary.sort_values([*BUDGET, "is_baseline", "mean_rank"])


def summary_tables(summary: pd.DataFrame) -> Iterator[tuple[str, pd.DataFrame]]:
    """(title, rows) per profile, protocol (linear probe first) and label budget (fractions,
    then shot counts)."""
    groups = dict(tuple(summary.groupby(BUDGET)))
    for key in sorted(groups, key=lambda k: (k[0], protocol_rank(k[1]), k[1], k[3], k[2])):
        profile, protocol, fraction, shots = key
        name = PROTOCOL_NAMES.get(protocol, protocol)
        budget = budget_label(fraction, shots)
        title = f"all tasks · {name} · {budget} labels (profile {profile})"
        yield title, groups[key]


def summary_note(level: float, n_boot: int) -> str:
    """What the summary's numbers mean."""
    return (
        "Mean main metric over the tasks (of the seed means; none where the tasks' metrics "
        "differ) and mean rank among the rows (1 = best in each task's direction, ties "
        f"averaged) with its {level:.0%} bootstrap CI ({n_boot} resamples of each task's test "
        "records). Bold: best in the column."
    )


def to_summary_markdown(summary: pd.DataFrame, note: str) -> str:
    """Every summary table in Markdown, then the note."""
    parts = ["# Summary over tasks\n"]
    for title, rows in summary_tables(summary):
        lines = [f"## {title}", "", f"| Method | Tasks | {score_header(rows)} | Mean rank [CI] |"]
        lines.append("|---|---|---|---|")
        for _, row in rows.iterrows():
            score, rank = _texts(row)
            score = f"**{score}**" if row["best_score"] else score
            rank = f"**{rank}**" if row["best_rank"] else rank
            lines.append(f"| {row['method']} | {row['n_tasks']} | {score} | {rank} {_ci(row)} |")
        parts.append("\n".join(lines) + "\n")
    parts.append(f"{note}\n")
    return "\n".join(parts)


def to_summary_latex(summary: pd.DataFrame, note: str) -> str:
    """Every summary table as a booktabs ``table``."""
    parts = ["% needs \\usepackage{booktabs}\n"]
    for title, rows in summary_tables(summary):
        lines = [
            r"\begin{table}[t]", r"\centering",
            rf"\caption{{{latex_escape(title)}: mean over tasks.}}", r"\small",
            r"\begin{tabular}{lccc}", r"\toprule",
            rf"Method & Tasks & {latex_escape(score_header(rows))} & Mean rank \\", r"\midrule",
        ]  # fmt: skip
        for _, row in rows.iterrows():
            score, rank = _texts(row)
            score = rf"\textbf{{{score}}}" if row["best_score"] else score
            rank = rf"\textbf{{{rank}}}" if row["best_rank"] else rank
            cells = [latex_escape(row["method"]), str(row["n_tasks"]), score, f"{rank} {_ci(row)}"]
            lines.append(" & ".join(cells) + r" \\")
        lines += [r"\bottomrule", r"\end{tabular}"]
        lines += [rf"\par\smallskip{{\footnotesize\raggedright {latex_escape(note)}\par}}"]
        lines += [r"\end{table}", ""]
        parts.append("\n".join(lines))
    return "\n".join(parts)


def score_header(rows: pd.DataFrame) -> str:
    """The score column's title: ``Mean <metric>`` of the table's tasks (or "mixed")."""
    metric = str(rows["metric"].iloc[0]) if len(rows) else "mixed"
    if metric == "mixed":
        return "Mean score (mixed metrics)"
    return f"Mean {METRIC_LABELS.get(metric, metric)}"


def _texts(row: pd.Series) -> tuple[str, str]:
    score = "–" if pd.isna(row["mean_score"]) else f"{row['mean_score']:.3f}"
    return score, f"{row['mean_rank']:.2f}"


def _ci(row: pd.Series) -> str:
    return f"[{row['rank_ci_low']:.2f}, {row['rank_ci_high']:.2f}]"


class _Samples:
    """Per-cell number (``choice``) on each fixed resample of its task's test records, cached."""

    def __init__(self, results_dir: Path, n_boot: int, boot_seed: int, choice: ScoreChoice):
        self._results_dir, self._n_boot, self._seed = results_dir, n_boot, boot_seed
        self._choice = choice
        self._cache: dict[str, np.ndarray] = {}

    def get(self, cell: CellResult) -> np.ndarray:
        if cell.eval_key not in self._cache:
            stored = load_predictions(self._results_dir, cell.eval_key).sorted_by_record()
            indices = bootstrap_indices(len(stored.record_ids), self._n_boot, self._seed)
            self._cache[cell.eval_key] = self._choice.resampled(
                cell, stored.y_true, stored.y_score, indices
            )
        return self._cache[cell.eval_key]
