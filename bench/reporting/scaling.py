"""The data-scaling figure: downstream score against the pretraining-set size.

The figure draws, per (profile, task, protocol, fraction), the test main metric against
the number of pretraining records (log axis), one line per method and corpus through the seed
means with a ± std band; written where a grid has more than one size. Files:
``scaling_<task>_<protocol>_<fraction>_<profile>.png``, ``.pdf`` and ``.csv`` under
``<results>/figures``.
"""

from __future__ import annotations

import io
from collections.abc import Collection
from pathlib import Path

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bench.atomic import atomic_write
from bench.grid.results import CellResult, load_results
from bench.reporting.corpus_rows import corpus_of
from bench.reporting.figures import DPI, METRIC_LABELS, method_colour
from bench.reporting.formats import PROTOCOL_NAMES, fraction_label

SCALING_COLUMNS = (
    "profile", "task", "protocol", "fraction", "method", "corpus", "records", "n_seeds",
    "mean", "std", "metric",
)  # fmt: skip


def scaling_frame(results: list[CellResult]) -> pd.DataFrame:
    """Seed means and stds of the main metric per (task, protocol, fraction, method, corpus,
    pretraining records), from the ok label-fraction cells pretrained on a corpus."""
    rows = []
    for result in results:
        corpus = corpus_of(result)
        if corpus is None or result.status != "ok" or result.shots is not None:
            continue  # few-shot cells have no label fraction: not drawn here
        metric = result.metrics.get("main_metric", "macro_auroc")
        rows.append(
            {
                "profile": result.profile, "task": result.task, "protocol": result.protocol,
                "fraction": float(result.fraction), "method": result.method,
                "corpus": corpus["name"], "records": int(corpus["records"]),
                "value": float(result.metrics[metric]), "metric": metric,
            }
        )  # fmt: skip
    if not rows:
        return pd.DataFrame(columns=list(SCALING_COLUMNS))
    frame = pd.DataFrame(rows)
    keys = ["profile", "task", "protocol", "fraction", "method", "corpus", "records", "metric"]
    grouped = frame.groupby(keys)["value"]
    table = grouped.agg(n_seeds="count", mean="mean", std="std").reset_index()
    table["std"] = table["std"].fillna(0.0)
    return table[list(SCALING_COLUMNS)]


def plot_scaling(data: pd.DataFrame, title: str) -> Figure:
    """Main metric vs. pretraining records (log x), one line per (method, corpus)."""
    figure = Figure(figsize=(5.5, 3.8))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for (method, corpus), line in data.groupby(["method", "corpus"]):
        line = line.sort_values("records")
        colour = method_colour(method)
        x, mean, std = line["records"], line["mean"], line["std"]
        axes.plot(x, mean, marker="o", color=colour, label=f"{method} on {corpus}")
        axes.fill_between(x, mean - std, mean + std, color=colour, alpha=0.15, linewidth=0)
    axes.set_xscale("log")
    sizes = sorted(data["records"].unique())
    axes.set_xticks(sizes, [f"{size:,}" for size in sizes])
    axes.minorticks_off()
    axes.set_xlabel("pretraining records")
    metric = data["metric"].iloc[0]
    axes.set_ylabel(f"test {METRIC_LABELS.get(metric, metric)}")
    axes.set_title(title, fontsize=10)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    return figure


def write_scaling_figures(
    results: str | Path, out: Path | None = None, eval_keys: Collection[str] | None = None
) -> list[Path]:
    """One PNG (+ CSV) per (profile, task, protocol, fraction) holding more than one
    pretraining size; returns the PNG paths (none when no grid varied the size)."""
    loaded = [
        r
        for r in load_results(results, status="ok")
        if eval_keys is None or r.eval_key in eval_keys
    ]
    table = scaling_frame(loaded)
    out = Path(results) / "figures" if out is None else out
    written = []
    for (profile, task, protocol, fraction), data in table.groupby(
        ["profile", "task", "protocol", "fraction"]
    ):
        if data["records"].nunique() < 2:
            continue
        out.mkdir(parents=True, exist_ok=True)
        name = f"scaling_{task}_{protocol}_{fraction:g}_{profile}"
        title = (
            f"{task}, {PROTOCOL_NAMES.get(protocol, protocol)}, {fraction_label(fraction)} labels"
        )
        figure = plot_scaling(data, title)
        for kind in ("png", "pdf"):
            buffer = io.BytesIO()
            figure.savefig(buffer, format=kind, dpi=DPI)
            blob = buffer.getvalue()
            atomic_write(out / f"{name}.{kind}", lambda handle, blob=blob: handle.write(blob))
        png = out / f"{name}.png"
        csv = data.to_csv(index=False).encode()
        atomic_write(out / f"{name}.csv", lambda handle, blob=csv: handle.write(blob))
        written.append(png)
    return written
