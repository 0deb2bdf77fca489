"""Robustness tables and figures from result files: the main metric at each noise level.

Cells evaluated with ``evaluation.noise.levels`` (``bench.evaluation.robustness``) store their
main metric at each level (``metrics["noise_level_<k>"]``). Per (profile, task, protocol, label
fraction): a table with a row per method (baselines last) and the columns clean, level 1, ...,
each "mean ± std over runs" (a run: a pretraining seed x a fraction seed; no ± for one run),
and a figure of the main metric against the noise level (0 = clean) per method, the ± std as a
band. Files: ``<results>/leaderboards/robustness.{md,csv,tex}`` and
``<results>/figures/<task>_<protocol>_<fraction>pct_<profile>_robustness.{png,pdf,csv}``
(the results page picks those figures up). Nothing is written when no cell has noise levels.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Collection, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bench.atomic import atomic_write
from bench.evaluation.robustness import METRIC_PREFIX
from bench.grid.results import CellResult, load_results
from bench.reporting.figures import DPI, METRIC_LABELS, method_colour
from bench.reporting.formats import PROTOCOL_NAMES, fraction_label, latex_escape
from bench.reporting.leaderboard import BASELINES
from bench.task import METRIC_DIRECTIONS

TABLE_KEYS = ["profile", "task_group", "task", "protocol", "fraction"]
FILE_NAMES = {"markdown": "robustness.md", "csv": "robustness.csv", "latex": "robustness.tex"}
NOTE = (
    "Test-fold main metric with the CPC study's synthetic noise (baseline wander, electrode "
    "motion, powerline, baseline shift; level 1 (0.05, 0.25, 0.1, 0.5) mV to level 6 (0.3, 2, "
    "0.5, 3) mV maximum amplitudes) added to the stored test records before each method's "
    "preprocessing, seeded per record: the same noisy records for every method. The model is "
    "the one selected on clean validation data. Mean ± std over runs (no ± for one run)."
)


def robustness_frame(
    results_dir: str | Path, eval_keys: Collection[str] | None = None
) -> pd.DataFrame:
    """One row per (table, method): TABLE_KEYS, method, is_baseline, metric, higher_is_better,
    n_runs, then ``clean`` / ``clean_std`` and ``level k`` / ``level k_std`` per level."""
    results = [
        r
        for r in load_results(results_dir, status="ok", eval_keys=eval_keys)
        if "noise_metric" in r.metrics and r.shots is None  # label-fraction cells (not few-shot)
    ]
    rows: list[dict[str, object]] = []
    for _, cells in _grouped(results).items():
        first = cells[0]
        metric = str(first.metrics["noise_metric"])
        row: dict[str, object] = {
            "profile": first.profile, "task_group": first.task_group, "task": first.task,
            "protocol": first.protocol, "fraction": float(first.fraction),
            "method": first.method, "is_baseline": _is_baseline(first.method),
            "metric": metric, "higher_is_better": METRIC_DIRECTIONS[metric],
            "n_runs": len(cells),
        }  # fmt: skip
        columns = [("clean", metric)]
        columns += [(f"level {k}", f"{METRIC_PREFIX}{k}") for k in _levels(cells)]
        for name, key in columns:
            values = np.array([c.metrics.get(key, np.nan) for c in cells], dtype=np.float64)
            values = values[np.isfinite(values)]
            row[name] = float(values.mean()) if len(values) else np.nan
            row[f"{name}_std"] = float(values.std(ddof=1)) if len(values) > 1 else np.nan
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame = frame.sort_values([*TABLE_KEYS, "is_baseline", "method"], kind="stable")
    columns = [c for c in frame.columns if not c.startswith(("clean", "level "))]
    return frame[columns + _level_columns(frame)].reset_index(drop=True)


def write_robustness(
    results_dir: str | Path, eval_keys: Collection[str] | None = None
) -> list[Path]:
    """Write the robustness tables and figures (see module doc); [] when no cell has levels."""
    results = Path(results_dir)
    frame = robustness_frame(results, eval_keys)
    if frame.empty:
        return []
    tables = results / "leaderboards"
    tables.mkdir(parents=True, exist_ok=True)
    texts = {
        "markdown": to_markdown(frame),
        "csv": frame.to_csv(index=False),
        "latex": to_latex(frame),
    }
    written = []
    for kind, text in texts.items():
        path = tables / FILE_NAMES[kind]
        atomic_write(path, lambda f, text=text: f.write(text.encode()))
        written.append(path)
    return written + _write_figures(frame, results / "figures")


def to_markdown(frame: pd.DataFrame) -> str:
    """A Markdown table per (profile, task, protocol, fraction), then the note."""
    parts = ["# Noise robustness\n"]
    for title, table, levels in _tables(frame):
        lines = [f"## {title}", "", "| Method | " + " | ".join(levels) + " |"]
        lines.append("|---|" + "---|" * len(levels))
        for _, row in table.iterrows():
            lines.append(f"| {row['method']} | " + " | ".join(_cell(row, c) for c in levels) + " |")
        parts.append("\n".join(lines) + "\n")
    parts.append(NOTE + "\n")
    return "\n".join(parts)


def to_latex(frame: pd.DataFrame) -> str:
    """A booktabs ``table`` per (profile, task, protocol, fraction), the note below each."""
    parts = ["% needs \\usepackage{booktabs}\n"]
    for title, table, levels in _tables(frame):
        lines = [
            r"\begin{table}[t]",
            r"\centering",
            rf"\caption{{{latex_escape(title)}.}}",
            r"\small",
            rf"\begin{{tabular}}{{l{'c' * len(levels)}}}",
            r"\toprule",
            " & ".join(["Method", *levels]) + r" \\",
            r"\midrule",
        ]
        for _, row in table.iterrows():
            cells = [_cell(row, c).replace(" ± ", r" $\pm$ ") for c in levels]
            lines.append(" & ".join([latex_escape(str(row["method"])), *cells]) + r" \\")
        lines += [r"\bottomrule", r"\end{tabular}"]
        lines += [rf"\par\smallskip{{\footnotesize\raggedright {latex_escape(NOTE)}\par}}"]
        lines += [r"\end{table}", ""]
        parts.append("\n".join(lines))
    return "\n".join(parts)


def plot_robustness(table: pd.DataFrame, title: str) -> Figure:
    """The main metric against the noise level (0 = clean) per method of one table."""
    figure = Figure(figsize=(5.5, 4.0))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    levels = [c for c in _level_columns(table) if not c.endswith("_std")]
    x = np.array([0 if c == "clean" else int(c.split()[1]) for c in levels])
    for _, row in table.iterrows():
        mean = row[levels].to_numpy(dtype=np.float64)
        std = np.nan_to_num(row[[f"{c}_std" for c in levels]].to_numpy(dtype=np.float64))
        colour = method_colour(str(row["method"]))
        style = "--" if row["is_baseline"] else "-"
        axes.plot(x, mean, color=colour, marker="o", markersize=4, linestyle=style,
                  label=str(row["method"]))  # fmt: skip
        axes.fill_between(x, mean - std, mean + std, color=colour, alpha=0.15, linewidth=0)
    axes.set_xticks(x, ["clean" if v == 0 else str(v) for v in x])
    axes.set_xlabel("noise level (CPC study; 0 = clean)")
    metric = str(table["metric"].iloc[0])
    axes.set_ylabel(f"{METRIC_LABELS.get(metric, metric)} (test)")
    axes.set_title(title, fontsize="medium")
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize="small", loc="best")
    figure.tight_layout()
    return figure


def _write_figures(frame: pd.DataFrame, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for _, table, _ in _tables(frame):
        profile, _group, task, protocol, fraction = table.iloc[0][TABLE_KEYS]
        stem = _safe(f"{task}_{protocol}_{fraction * 100:g}pct_{profile}_robustness")
        name = PROTOCOL_NAMES.get(protocol, protocol)
        title = f"{task} · {name} · {fraction_label(fraction)} labels (profile {profile})"
        figure = plot_robustness(table, title)
        for fmt in ("png", "pdf"):
            buffer = io.BytesIO()
            figure.savefig(buffer, format=fmt, dpi=DPI)
            atomic_write(out / f"{stem}.{fmt}", lambda f, b=buffer: f.write(b.getvalue()))
        data = table.to_csv(index=False).encode()
        atomic_write(out / f"{stem}.csv", lambda f, d=data: f.write(d))
        written.append(out / f"{stem}.png")
    return written


def _tables(frame: pd.DataFrame) -> Iterator[tuple[str, pd.DataFrame, list[str]]]:
    """(title, rows, level columns present) per (profile, group, task, protocol, fraction)."""
    for key, table in frame.groupby(TABLE_KEYS, sort=True):
        profile, group, task, protocol, fraction = key
        levels = [c for c in _level_columns(table) if not c.endswith("_std")]
        levels = [c for c in levels if table[c].notna().any()]
        metric = str(table["metric"].iloc[0])
        direction = "higher" if bool(table["higher_is_better"].iloc[0]) else "lower"
        title = (
            f"{task} · {PROTOCOL_NAMES.get(protocol, protocol)} · {fraction_label(fraction)} "
            f"labels ({group}, profile {profile}) · {metric} ({direction} is better) by noise level"
        )
        yield title, table.sort_values(["is_baseline", "method"], kind="stable"), levels


def _grouped(results: list[CellResult]) -> dict[tuple, list[CellResult]]:
    groups: dict[tuple, list[CellResult]] = {}
    for r in results:
        key = (r.profile, r.task_group, r.task, r.protocol, float(r.fraction), r.method)
        groups.setdefault(key, []).append(r)
    return groups


def _levels(cells: list[CellResult]) -> list[int]:
    names = {key for cell in cells for key in cell.metrics if key.startswith(METRIC_PREFIX)}
    return sorted(int(name[len(METRIC_PREFIX) :]) for name in names)


def _level_columns(frame: pd.DataFrame) -> list[str]:
    """clean, clean_std, level 1, level 1_std, ... in level order."""
    levels = sorted(
        {int(c.split()[1].removesuffix("_std")) for c in frame.columns if c.startswith("level ")}
    )
    names = ["clean", *(f"level {k}" for k in levels)]
    return [c for name in names for c in (name, f"{name}_std") if c in frame.columns]


def _cell(row: pd.Series, column: str) -> str:
    mean, std = row[column], row[f"{column}_std"]
    if pd.isna(mean):
        return "–"
    return f"{mean:.3f}" if pd.isna(std) or math.isnan(std) else f"{mean:.3f} ± {std:.3f}"


def _is_baseline(method: str) -> bool:
    return method.split("[", 1)[0] in BASELINES


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name)
