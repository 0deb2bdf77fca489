"""Label-efficiency figures from result files: the main metric against the label fraction.

One figure per (profile, task, protocol): x = label fraction on a log axis ticked at the
fractions run, y = the test main metric (macro AUROC, or the task's own), a line through the
seed means with a ± std band per method. Few-shot cells get their own figure per (profile,
task, protocol), x = shots per class (``<task>_<protocol>_shots_<profile>.*``).
Baselines are dashed and appear in every protocol's figure (random_init has linear-probe cells
only, supervised fine-tuning cells only; a baseline drawn from the other protocol says so in the
legend). Each method has a fixed colour (``method_colour``), the same in every figure and run.
Files: ``<task>_<protocol>_<profile>.png`` (dpi 200), ``.pdf`` and ``.csv`` (the plotted
numbers) under ``<results>/figures`` by default. Rendering uses the Agg canvas, never pyplot.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Collection
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bench.atomic import atomic_write
from bench.errors import DataError
from bench.grid.results import load_results, results_frame
from bench.reporting.corpus_rows import row_name
from bench.reporting.formats import METRIC_LABELS, PROTOCOL_NAMES, fraction_label, protocol_rank
from bench.reporting.leaderboard import BASELINES

DPI = 200
KNOWN_COLOURS = {
    "jepa": "#1f77b4",
    "hybrid": "#ff7f0e",
    "cpc": "#2ca02c",
    "stmask": "#9467bd",
    "random_init": "#7f7f7f",
    "supervised": "#d62728",
}
# Other methods: a colour from this list picked by a hash of the name (stable across runs).
PALETTE = (
    "#8c564b", "#e377c2", "#bcbd22", "#17becf", "#aec7e8", "#ffbb78",
    "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#dbdb8d",
)  # fmt: skip
FIGURE_COLUMNS = (
    "profile", "task", "protocol", "method", "method_protocol", "is_baseline", "fraction",
    "shots", "n_seeds", "mean", "std", "colour", "metric",
)  # fmt: skip
FIGURE_KEYS = ["profile", "task", "protocol", "few_shot"]  # one figure each


def method_colour(method: str) -> str:
    """The fixed colour of ``method``: a known one, else a stable hash into PALETTE."""
    if method in KNOWN_COLOURS:
        return KNOWN_COLOURS[method]
    digest = hashlib.sha256(method.encode()).digest()
    return PALETTE[int.from_bytes(digest[:4], "big") % len(PALETTE)]


def efficiency_frame(
    results_dir: str | Path,
    skip_invalid: bool = False,
    eval_keys: Collection[str] | None = None,
) -> pd.DataFrame:
    """Tidy plotting data, one row per (figure, method, fraction); columns FIGURE_COLUMNS.

    ``eval_keys`` restricts the data to those cells (e.g. one grid's).
    """
    results = load_results(results_dir, status="ok", skip_invalid=skip_invalid, eval_keys=eval_keys)
    cells = results_frame(results)
    metrics = [str(r.metrics.get("main_metric", "macro_auroc")) for r in results]
    main = [r.metrics[m] for r, m in zip(results, metrics, strict=True)]
    cells = cells.assign(metric=metrics, main=main, method=[row_name(r) for r in results])
    keys = ["profile", "task", "protocol", "method", "fraction", "shots", "metric"]
    stats = cells.groupby(keys)["main"].agg(n_seeds="count", mean="mean", std="std").reset_index()
    stats["few_shot"] = stats["shots"] > 0
    parts = []
    for (profile, task, protocol, few_shot), _ in stats.groupby(FIGURE_KEYS):
        same = stats[
            (stats["profile"] == profile)
            & (stats["task"] == task)
            & (stats["few_shot"] == few_shot)
        ]
        here = same[same["protocol"] == protocol]
        shown = [here[~here["method"].isin(BASELINES)]]
        for baseline in BASELINES:
            own = same[same["method"] == baseline]
            if not own.empty:
                others = sorted(set(own["protocol"]), key=protocol_rank)  # linear probe first
                chosen = protocol if protocol in others else others[0]
                shown.append(own[own["protocol"] == chosen])
        part = pd.concat(shown).rename(columns={"protocol": "method_protocol"})
        parts.append(part.assign(protocol=protocol))
    if not parts:
        return pd.DataFrame(columns=FIGURE_COLUMNS)
    frame = pd.concat(parts, ignore_index=True)
    frame["is_baseline"] = frame["method"].isin(BASELINES)
    frame["colour"] = frame["method"].map(method_colour)
    frame = frame.sort_values(
        ["profile", "task", "protocol", "is_baseline", "method", "shots", "fraction"]
    )
    return frame[list(FIGURE_COLUMNS)].reset_index(drop=True)


def plot_label_efficiency(data: pd.DataFrame, title: str) -> Figure:
    """One figure from the rows of ``efficiency_frame`` that belong to it."""
    figure = Figure(figsize=(5.5, 4.0))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axis = "shots" if (data["shots"] > 0).any() else "fraction"
    for (method, shown_protocol), line in data.groupby(["method", "method_protocol"], sort=False):
        line = line.sort_values(axis)
        baseline = bool(line["is_baseline"].iloc[0])
        label = (
            method if shown_protocol == line["protocol"].iloc[0] else f"{method} ({shown_protocol})"
        )
        colour = method_colour(method)
        x, mean, std = line[axis], line["mean"], line["std"].fillna(0.0)
        axes.plot(
            x, mean, color=colour, marker="o", markersize=4, label=label,
            linestyle="--" if baseline else "-",
        )  # fmt: skip
        axes.fill_between(x, mean - std, mean + std, color=colour, alpha=0.15, linewidth=0)
    ticks = np.sort(data[axis].unique())
    axes.set_xscale("log")
    if axis == "shots":
        axes.set_xticks(ticks, [str(int(k)) for k in ticks])
        axes.set_xlabel("labelled records per class (shots)")
    else:
        axes.set_xticks(ticks, [fraction_label(f) for f in ticks])
        axes.set_xlabel("label fraction (training folds)")
    axes.minorticks_off()
    metric = str(data["metric"].iloc[0]) if "metric" in data else "macro_auroc"
    axes.set_ylabel(f"{METRIC_LABELS.get(metric, metric)} (test)")
    axes.set_title(title, fontsize="medium")
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize="small", loc="best")
    figure.tight_layout()
    return figure


def write_figures(
    results_dir: str | Path,
    out_dir: str | Path | None = None,
    skip_invalid: bool = False,
    eval_keys: Collection[str] | None = None,
) -> list[Path]:
    """Write every label-efficiency figure (PNG, PDF, CSV); returns the PNG paths."""
    frame = efficiency_frame(results_dir, skip_invalid, eval_keys)
    if frame.empty:
        raise DataError(f"no finished cells under {Path(results_dir) / 'runs'}; nothing to plot")
    out = Path(out_dir) if out_dir is not None else Path(results_dir) / "figures"
    out.mkdir(parents=True, exist_ok=True)
    written = []
    frame = frame.assign(few_shot=frame["shots"] > 0)
    for (profile, task, protocol, few_shot), data in frame.groupby(FIGURE_KEYS):
        data = data.drop(columns="few_shot")
        stem = _safe(f"{task}_{protocol}{'_shots' if few_shot else ''}_{profile}")
        name = PROTOCOL_NAMES.get(protocol, protocol) + (", few-shot" if few_shot else "")
        title = f"{task} · {name} (profile {profile})"
        figure = plot_label_efficiency(data, title)
        for fmt in ("png", "pdf"):
            buffer = io.BytesIO()
            figure.savefig(buffer, format=fmt, dpi=DPI)
            atomic_write(out / f"{stem}.{fmt}", lambda f, b=buffer: f.write(b.getvalue()))
        table = data.to_csv(index=False).encode()
        atomic_write(out / f"{stem}.csv", lambda f, t=table: f.write(t))
        written.append(out / f"{stem}.png")
    return written


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name)
