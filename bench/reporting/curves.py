"""Pretraining loss curves from each run folder's ``history.csv`` (written by the training loop).

One PNG per pretraining: the loss (and the method's other loss terms, columns named
``loss*``) against the optimiser step, the learning rate on a second axis. Rendered with the Agg
canvas, never pyplot.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bench.atomic import atomic_write
from bench.errors import DataError
from bench.training.run_files import HISTORY_NAME

DPI = 120


def read_history(path: Path) -> pd.DataFrame:
    """A pretraining's history; DataError naming the file when it is unreadable."""
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as error:
        raise DataError(f"cannot read training history {path}: {error}") from error
    if "step" not in frame.columns or "loss" not in frame.columns:
        raise DataError(f"training history {path} lacks a 'step' or 'loss' column")
    return frame


def plot_loss_curve(history: pd.DataFrame, title: str) -> Figure:
    """Loss terms against the step; the learning rate, when logged, dashed on a right axis."""
    figure = Figure(figsize=(5.0, 3.2))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for column in [c for c in history.columns if c.startswith("loss")]:
        axes.plot(history["step"], history[column], label=column, linewidth=1.2)
    axes.set_xlabel("step")
    axes.set_ylabel("loss")
    axes.set_title(title, fontsize="medium")
    axes.grid(True, alpha=0.3)
    if "lr" in history.columns:
        rate = axes.twinx()
        rate.plot(history["step"], history["lr"], color="grey", linestyle="--", linewidth=0.8)
        rate.set_ylabel("learning rate", color="grey")
    axes.legend(fontsize="small", loc="upper right")
    figure.tight_layout()
    return figure


def write_loss_curve(run_dir: Path, out: Path) -> Path:
    """Write ``out`` (PNG) from ``run_dir/history.csv``; returns ``out``."""
    history = read_history(run_dir / HISTORY_NAME)
    figure = plot_loss_curve(history, run_dir.name)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, lambda f: f.write(buffer.getvalue()))
    return out
