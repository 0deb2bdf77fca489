"""The example-record figure of a delineation task: one lead's signal, and under it a band per mask.

The top panel is the signal (mV or standardised units against seconds), with the unscored part of
the lead (true mask -1) shaded grey. Under it, one band per mask: the cardiologists' annotation
first, then each method's prediction in the order given, each wave drawn as a coloured span
(P green, QRS red, T blue; background left white; the annotation band grey where unscored;
method names in black, since the methods' fixed colours would read as wave colours). Files:
``<stem>.png`` (dpi 200) and ``<stem>.pdf``, written atomically; rendering uses the Agg canvas.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from bench.atomic import atomic_write
from bench.errors import DataError
from bench.evaluation.delineation import wave_boundaries
from bench.reporting.figures import DPI
from bench.task import UNSCORED

WAVE_COLOURS: dict[int, tuple[str, str]] = {
    1: ("P", "#2ca02c"),
    2: ("QRS", "#d62728"),
    3: ("T", "#1f77b4"),
}
UNSCORED_COLOUR = "#d9d9d9"
TRUTH_LABEL = "annotation"


def _spans(mask: np.ndarray, label: int, seconds: float) -> list[tuple[float, float]]:
    """(start, width) in seconds of every run of ``label`` in ``mask``."""
    onsets, offsets = wave_boundaries(mask, label)
    return [(a * seconds, (b - a + 1) * seconds) for a, b in zip(onsets, offsets, strict=True)]


def check_inputs(
    signal: np.ndarray, true_mask: np.ndarray, predictions: Mapping[str, np.ndarray]
) -> None:
    """DataError naming the offending mask unless every array is 1-D of the signal's length
    with valid classes (true -1..3, predicted 0..3)."""
    signal = np.asarray(signal)
    if signal.ndim != 1 or not len(signal):
        raise DataError(f"the example signal must be one lead [T], got shape {signal.shape}")
    masks = {TRUTH_LABEL: (true_mask, (UNSCORED, 0, 1, 2, 3))}
    masks.update({name: (mask, (0, 1, 2, 3)) for name, mask in predictions.items()})
    for name, (mask, classes) in masks.items():
        mask = np.asarray(mask)
        if mask.shape != signal.shape:
            raise DataError(
                f"delineation figure: the {name} mask has shape {mask.shape}, the signal "
                f"{signal.shape}; every mask needs one class per signal sample"
            )
        if not np.isin(mask, classes).all():
            raise DataError(f"delineation figure: the {name} mask holds classes outside {classes}")


def plot_delineation(
    signal: np.ndarray,
    true_mask: np.ndarray,
    predictions: Mapping[str, np.ndarray],
    sampling_rate: int,
    title: str = "",
) -> Figure:
    """The figure of one lead (see the module docstring)."""
    check_inputs(signal, true_mask, predictions)
    if sampling_rate <= 0:
        raise DataError(f"delineation figure: sampling_rate must be positive, got {sampling_rate}")
    true_mask = np.asarray(true_mask)
    bands = [(TRUTH_LABEL, true_mask), *((n, np.asarray(m)) for n, m in predictions.items())]
    seconds = 1.0 / sampling_rate
    time = np.arange(len(signal)) * seconds
    figure = Figure(figsize=(10.0, 2.6 + 0.32 * len(bands)))
    FigureCanvasAgg(figure)
    top, bottom = figure.subplots(
        2, 1, sharex=True, gridspec_kw={"height_ratios": [2.6, 0.32 * len(bands)]}
    )
    top.plot(time, signal, color="black", linewidth=0.8)
    for start, width in _spans(true_mask, UNSCORED, seconds):
        top.axvspan(start, start + width, color=UNSCORED_COLOUR, lw=0)
    top.set_ylabel("signal")
    top.set_title(title, loc="left")
    top.grid(True, alpha=0.3)
    for row, (_, mask) in enumerate(bands):
        y = len(bands) - 1 - row
        if row == 0:  # the annotation
            bottom.broken_barh(
                _spans(mask, UNSCORED, seconds), (y - 0.4, 0.8), color=UNSCORED_COLOUR
            )
        for label, (_, colour) in WAVE_COLOURS.items():
            bottom.broken_barh(_spans(mask, label, seconds), (y - 0.4, 0.8), color=colour)
    bottom.set_yticks(range(len(bands)), [name for name, _ in bands][::-1])
    bottom.set_ylim(-0.6, len(bands) - 0.4)
    bottom.set_xlim(0, len(signal) * seconds)
    bottom.set_xlabel("time (s)")
    handles = [Patch(color=c, label=w) for w, c in WAVE_COLOURS.values()]
    handles.append(Patch(color=UNSCORED_COLOUR, label="unscored"))
    top.legend(
        handles=handles, fontsize="small", loc="lower right", bbox_to_anchor=(1.0, 1.0),
        ncol=len(handles), frameon=False,
    )  # fmt: skip
    figure.tight_layout()
    return figure


def write_delineation_figure(
    stem: str | Path,
    signal: np.ndarray,
    true_mask: np.ndarray,
    predictions: Mapping[str, np.ndarray],
    sampling_rate: int,
    title: str = "",
) -> list[Path]:
    """Write ``<stem>.png`` and ``<stem>.pdf`` (folder created if needed); returns both paths.
    Inputs are checked before anything is written."""
    figure = plot_delineation(signal, true_mask, predictions, sampling_rate, title)
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in ("png", "pdf"):
        buffer = io.BytesIO()
        figure.savefig(buffer, format=fmt, dpi=DPI)
        path = stem.with_name(f"{stem.name}.{fmt}")
        atomic_write(path, lambda f, b=buffer: f.write(b.getvalue()))
        written.append(path)
    return written
