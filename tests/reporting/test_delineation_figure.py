"""The delineation example figure: both files, the drawn bands, and refused inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import to_hex
from matplotlib.image import imread

from bench.errors import DataError
from bench.reporting.delineation_figure import (
    WAVE_COLOURS,
    plot_delineation,
    write_delineation_figure,
)

RATE = 100
SIGNAL = np.sin(np.linspace(0, 20, 500))
TRUE = np.full(500, -1)
TRUE[50:450] = 0
TRUE[100:110], TRUE[120:130], TRUE[150:180] = 1, 2, 3


def test_writes_png_and_pdf(tmp_path: Path) -> None:
    late = np.roll(np.where(TRUE < 0, 0, TRUE), 5)
    paths = write_delineation_figure(
        tmp_path / "figs" / "ludb_1_II", SIGNAL, TRUE, {"unet1d": late, "cpc": late * 0}, RATE,
        title="record 1, lead II",
    )  # fmt: skip
    assert [p.name for p in paths] == ["ludb_1_II.png", "ludb_1_II.pdf"]
    image = imread(paths[0])
    assert image.shape[0] > 400 and image.shape[1] > 1500  # 10 x ~3.6 in at dpi 200
    assert paths[1].read_bytes().startswith(b"%PDF")
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == sorted(p.name for p in paths)


def test_bands_show_each_mask_in_seconds() -> None:
    pred = np.zeros(500, dtype=int)
    pred[125:135] = 2
    figure = plot_delineation(SIGNAL, TRUE, {"unet1d": pred}, RATE)
    bands = figure.axes[1]
    labels = [t.get_text() for t in bands.get_yticklabels()]
    assert labels == ["unet1d", "annotation"]  # the annotation on top
    red = [c for c in bands.collections if to_hex(c.get_facecolor()[0]) == WAVE_COLOURS[2][1]]
    starts = sorted(round(float(p.vertices[:, 0].min()), 2) for c in red for p in c.get_paths())
    assert starts == [1.2, 1.25]  # true QRS at sample 120, predicted at 125 (100 Hz)


def test_mismatched_lengths_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"the cpc mask has shape \(499,\), the signal \(500,\)"):
        write_delineation_figure(tmp_path / "x", SIGNAL, TRUE, {"cpc": TRUE[:-1] * 0}, RATE)
    with pytest.raises(DataError, match="annotation mask"):
        write_delineation_figure(tmp_path / "x", SIGNAL, TRUE[:-1], {}, RATE)
    with pytest.raises(DataError, match="outside"):
        write_delineation_figure(tmp_path / "x", SIGNAL, TRUE, {"cpc": TRUE}, RATE)
    assert not list(tmp_path.iterdir())
