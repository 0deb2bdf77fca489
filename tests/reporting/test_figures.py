"""Label-efficiency figures from result files: files, plotted numbers, fixed colours."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex
from matplotlib.image import imread

from bench.cli import main
from bench.errors import DataError
from bench.grid.provenance import collect_provenance
from bench.grid.results import CellResult, Predictions, write_result
from bench.reporting.figures import (
    FIGURE_COLUMNS,
    KNOWN_COLOURS,
    efficiency_frame,
    method_colour,
    plot_label_efficiency,
    write_figures,
)

FRACTIONS = (0.01, 0.1, 1.0)
PROVENANCE = collect_provenance("fp")


def _auroc(method: str, task: str, fraction: float, seed: int) -> float:
    """A known value per cell, so the expected means and stds are simple to compute."""
    base = {"jepa": 0.80, "cpc": 0.75, "my_new_method": 0.70, "random_init": 0.60}
    base["supervised"] = 0.72
    return base[method] + 0.05 * np.log10(fraction) / 2 + 0.01 * seed + (task == "form") * 0.02


def _write(results: Path, method: str, task: str, protocol: str, fraction: float, seed: int):
    predictions = Predictions(np.arange(4), np.eye(4, 2), np.zeros((4, 2)))
    result = CellResult(
        eval_key=f"{method}-{task}-{protocol}-{fraction}-{seed}", pretrain_key=None,
        method=method, task=task, task_group="ptbxl", protocol=protocol,  # type: ignore[arg-type]
        fraction=fraction, seed=seed, profile="smoke", label_names=("a", "b"), n_train=10,
        n_val=4, n_test=4, realised_fraction=fraction, config={}, provenance=PROVENANCE,
        metrics={"macro_auroc": _auroc(method, task, fraction, seed)},
    )  # fmt: skip
    write_result(results, result, predictions)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("plots")
    for task in ("form", "rhythm"):
        for fraction in FRACTIONS:
            for seed in (0, 1, 2):
                for method in ("jepa", "cpc", "my_new_method"):
                    _write(root, method, task, "linear", fraction, seed)
                _write(root, "jepa", task, "finetune", fraction, seed)
                _write(root, "random_init", task, "linear", fraction, seed)
                _write(root, "supervised", task, "finetune", fraction, seed)
    return root


@pytest.fixture(scope="module")
def figures(results: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The figures written once through the command line."""
    out = tmp_path_factory.mktemp("figures")
    assert main(["plot", "--results", str(results), "--out", str(out)]) == 0
    return out


def test_files_exist_for_every_task_and_protocol(figures: Path) -> None:
    stems = sorted(path.stem for path in figures.glob("*.png"))
    assert stems == [f"{t}_{p}_smoke" for t in ("form", "rhythm") for p in ("finetune", "linear")]
    for stem in stems:
        for suffix in (".png", ".pdf", ".csv"):
            assert (figures / f"{stem}{suffix}").stat().st_size > 0
    height, width = imread(figures / f"{stems[0]}.png").shape[:2]
    assert width >= 5.5 * 200 - 1 and height >= 4 * 200 - 1  # dpi >= 200
    assert not list(figures.glob(".*.tmp"))


def test_csv_holds_the_plotted_means(results: Path, figures: Path) -> None:
    table = pd.read_csv(figures / "rhythm_linear_smoke.csv")
    assert tuple(table.columns) == FIGURE_COLUMNS
    jepa = table[table["method"] == "jepa"].set_index("fraction")
    for fraction in FRACTIONS:
        values = [_auroc("jepa", "rhythm", fraction, seed) for seed in (0, 1, 2)]
        assert jepa.loc[fraction, "mean"] == pytest.approx(np.mean(values))
        assert jepa.loc[fraction, "std"] == pytest.approx(np.std(values, ddof=1))
        assert jepa.loc[fraction, "n_seeds"] == 3
    supervised = table[table["method"] == "supervised"]
    assert set(supervised["method_protocol"]) == {"finetune"} and supervised["is_baseline"].all()

    data = efficiency_frame(results)
    figure_rows = data[(data["task"] == "rhythm") & (data["protocol"] == "linear")]
    axes = plot_label_efficiency(figure_rows, "rhythm").axes[0]
    lines = {line.get_label(): line for line in axes.get_lines()}
    assert np.allclose(lines["jepa"].get_ydata(), jepa.loc[list(FRACTIONS), "mean"])
    assert np.allclose(lines["jepa"].get_xdata(), FRACTIONS)


def test_axes_styles_and_legend(results: Path) -> None:
    data = efficiency_frame(results)
    figure_rows = data[(data["task"] == "form") & (data["protocol"] == "finetune")]
    axes = plot_label_efficiency(figure_rows, "form").axes[0]
    assert axes.get_xscale() == "log"
    assert [t.get_text() for t in axes.get_xticklabels()] == ["1 %", "10 %", "100 %"]
    assert axes.get_ylabel() == "macro AUROC (test)" and axes.get_title() == "form"
    styles = {line.get_label(): line.get_linestyle() for line in axes.get_lines()}
    assert styles == {"jepa": "-", "random_init (linear)": "--", "supervised": "--"}
    legend = [text.get_text() for text in axes.get_legend().get_texts()]
    assert sorted(legend) == sorted(styles)


def test_a_method_keeps_its_colour_across_figures(results: Path) -> None:
    data = efficiency_frame(results)
    colours = []
    for task in ("form", "rhythm"):
        rows = data[(data["task"] == task) & (data["protocol"] == "linear")]
        axes = plot_label_efficiency(rows, task).axes[0]
        colours.append({line.get_label(): to_hex(line.get_color()) for line in axes.get_lines()})
    assert colours[0] == colours[1]
    assert colours[0]["jepa"] == KNOWN_COLOURS["jepa"]
    assert colours[0]["my_new_method"] == method_colour("my_new_method")
    assert len(set(colours[0].values())) == len(colours[0])


def test_empty_results_give_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="nothing to plot"):
        write_figures(tmp_path / "nothing")
    assert main(["plot", "--results", str(tmp_path / "nothing")]) == 2
