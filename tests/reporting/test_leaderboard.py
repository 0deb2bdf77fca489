"""Leaderboards from result files written through bench.grid.results, with known structure.

Per task, three seeds: ``good`` scores far better than both baselines, ``mid`` copies the
supervised scores of each seed (better than random_init, identical to supervised), ``poor``
copies the random_init scores. random_init has linear cells only, supervised finetune only.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.cli import main
from bench.errors import DataError
from bench.evaluation.metrics import evaluate_cell
from bench.evaluation.significance import adjust_p_values
from bench.grid.provenance import collect_provenance
from bench.grid.results import CellResult, Predictions, load_results, write_result
from bench.reporting.leaderboard import (
    LEADERBOARD_COLUMNS,
    LeaderboardOptions,
    leaderboard_frame,
    write_leaderboards,
)

TASKS = ("rhythm", "superdiagnostic")
N_TEST, N_CLASSES, SEEDS = 240, 4, (0, 1, 2)
OPTIONS = LeaderboardOptions(n_boot=200)
PROVENANCE = collect_provenance("fp")


def _write_cell(
    results: Path, method: str, task: str, protocol: str, fraction: float, seed: int,
    y: np.ndarray, scores: np.ndarray, record_ids: np.ndarray,
) -> CellResult:  # fmt: skip
    names = tuple(f"{task}-{c}" for c in range(y.shape[1]))
    cell = evaluate_cell(y, scores, y, scores, names, test_record_ids=record_ids, n_boot=20)
    result = CellResult(
        eval_key=f"{method}-{task}-{protocol}-{fraction}-{seed}", pretrain_key=None,
        method=method, task=task, task_group="ptbxl", protocol=protocol,  # type: ignore[arg-type]
        fraction=fraction, seed=seed, profile="smoke", label_names=names, n_train=100, n_val=50,
        n_test=len(y), realised_fraction=fraction, config={}, provenance=PROVENANCE,
        metrics=cell.metrics, ci=cell.ci,
    )  # fmt: skip
    write_result(results, result, Predictions(record_ids, y, scores))
    return result


def _write_grid(results: Path) -> None:
    rng = np.random.default_rng(0)
    for task in TASKS:
        y = (rng.random((N_TEST, N_CLASSES)) < 0.3).astype(int)
        ids = rng.permutation(10_000)[:N_TEST]  # unsorted: the leaderboard aligns by id
        for fraction in (0.1, 1.0):
            for seed in SEEDS:
                noise = rng.normal(size=y.shape)
                random_scores = rng.normal(size=y.shape)
                supervised = 1.0 * y + noise
                cells = [
                    ("random_init", "linear", random_scores),
                    ("supervised", "finetune", supervised),
                    ("good", "linear", 3.0 * y + rng.normal(size=y.shape)),
                    ("good", "finetune", 3.5 * y + rng.normal(size=y.shape)),
                ]
                if fraction == 0.1:
                    cells += [("mid", "linear", supervised), ("poor", "linear", random_scores)]
                for method, protocol, scores in cells:
                    _write_cell(results, method, task, protocol, fraction, seed, y, scores, ids)


@pytest.fixture(scope="module")
def grid(tmp_path_factory: pytest.TempPathFactory) -> Path:
    results = tmp_path_factory.mktemp("grid")
    _write_grid(results)
    return results


@pytest.fixture(scope="module")
def frame(grid: Path) -> pd.DataFrame:
    frame = leaderboard_frame(grid, OPTIONS)
    frame.attrs["grid"] = grid
    return frame


def _entries(frame: pd.DataFrame, protocol: str, fraction: float, task: str) -> pd.DataFrame:
    where = (frame["protocol"] == protocol) & (frame["fraction"] == fraction)
    return frame[where & (frame["task"] == task)].set_index("method")


def test_mean_and_std_over_seeds(grid: Path, frame: pd.DataFrame) -> None:
    stored = [
        r.metrics["macro_auroc"]
        for r in load_results(grid)
        if (r.method, r.task, r.protocol, r.fraction) == ("good", "rhythm", "linear", 0.1)
    ]
    assert len(stored) == 3
    entry = _entries(frame, "linear", 0.1, "rhythm").loc["good"]
    assert entry["mean"] == pytest.approx(np.mean(stored))
    assert entry["std"] == pytest.approx(np.std(stored, ddof=1))
    assert entry["n_seeds"] == 3 and entry["seeds"] == "0;1;2"
    assert entry["ci_low"] < entry["mean"] < entry["ci_high"]


def test_rows_include_baselines_from_their_own_protocol(frame: pd.DataFrame) -> None:
    linear = _entries(frame, "linear", 0.1, "rhythm")
    assert set(linear.index) == {"good", "mid", "poor", "random_init", "supervised"}
    assert linear.loc["supervised", "method_protocol"] == "finetune"
    finetune = _entries(frame, "finetune", 1.0, "superdiagnostic")
    assert set(finetune.index) == {"good", "random_init", "supervised"}
    assert finetune.loc["random_init", "method_protocol"] == "linear"


def test_markers_exactly_where_expected(frame: pd.DataFrame) -> None:
    for task in TASKS:
        linear = _entries(frame, "linear", 0.1, task)["markers"].to_dict()
        assert linear == {
            "good": "†‡",
            "mid": "†",
            "poor": "",
            "random_init": "",
            "supervised": "†",
        }
        finetune = _entries(frame, "finetune", 1.0, task)["markers"].to_dict()
        assert finetune == {"good": "†‡", "random_init": "", "supervised": "†"}
    linear = _entries(frame, "linear", 0.1, "rhythm")
    assert linear.loc["mid", "p_vs_supervised"] == 1.0
    assert linear.loc["poor", "p_vs_random_init"] == 1.0
    # one-sided: no replicate of the hierarchical bootstrap at or below zero
    assert linear.loc["good", "p_vs_supervised"] == pytest.approx(1 / (OPTIONS.n_boot + 1))
    assert np.isnan(linear.loc["random_init", "p_vs_random_init"])


def test_p_values_are_adjusted_over_each_table(frame: pd.DataFrame) -> None:
    columns = ["p_vs_random_init", "p_vs_supervised"]
    adjusted = ["p_adj_vs_random_init", "p_adj_vs_supervised"]
    for _, table in frame.groupby(["profile", "task_group", "protocol", "fraction"]):
        family = table[columns].to_numpy().ravel()
        assert np.sum(np.isfinite(family)) >= 7  # methods x tasks x baselines, in one family
        expected = adjust_p_values(family, "bh").reshape(len(table), 2)
        assert np.allclose(table[adjusted].to_numpy(), expected, equal_nan=True)
        raw, corrected = table[columns].to_numpy(), table[adjusted].to_numpy()
        tested = np.isfinite(raw)
        assert (corrected[tested] >= raw[tested] - 1e-12).all()
    holm = leaderboard_frame(frame.attrs["grid"], dataclasses.replace(OPTIONS, correction="holm"))
    assert (holm["p_adj_vs_supervised"].fillna(0) >= frame["p_adj_vs_supervised"].fillna(0)).all()


def test_best_is_the_top_mean_of_each_column(frame: pd.DataFrame) -> None:
    assert set(frame.loc[frame["best"], "method"]) == {"good"}
    assert frame["best"].sum() == len(frame.groupby(["protocol", "fraction", "task"]))


def test_written_files(grid: Path, frame: pd.DataFrame, tmp_path: Path) -> None:
    paths = write_leaderboards(grid, tmp_path / "boards", OPTIONS)
    assert sorted(p.name for p in paths.values()) == [
        "leaderboard.csv",
        "leaderboard.md",
        "leaderboard.tex",
    ]
    csv = pd.read_csv(paths["csv"])
    assert tuple(csv.columns) == LEADERBOARD_COLUMNS and len(csv) == len(frame)

    markdown = paths["markdown"].read_text()
    good = _entries(frame, "linear", 0.1, "rhythm").loc["good"]
    assert f"**{good['mean']:.3f} ± {good['std']:.3f}** [" in markdown
    assert "## ptbxl · linear probe · 10 % labels (profile smoke)" in markdown
    assert "| supervised (finetune) | 3 |" in markdown
    assert "† / ‡: significantly better than random_init / supervised" in markdown
    assert "one-sided paired hierarchical bootstrap test" in markdown
    assert "adjusted by Benjamini-Hochberg over all tests of the table" in markdown

    _check_booktabs(paths["latex"].read_text(), n_tables=4)


def _check_booktabs(tex: str, n_tables: int) -> None:
    assert tex.count(r"\begin{table}") == tex.count(r"\end{table}") == n_tables
    assert not re.search(r"[±†‡·–]", tex)
    assert not re.search(r"(?<!\\)_", tex.replace(r"\_", "")), "unescaped underscore"
    assert tex.count("{") - tex.count(r"\{") == tex.count("}") - tex.count(r"\}")
    lines = tex.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(r"\begin{tabular}{")]
    assert len(starts) == n_tables
    for start in starts:
        n_columns = len(re.match(r"\\begin\{tabular\}\{(\w+)\}$", lines[start]).group(1))
        stop = next(i for i in range(start, len(lines)) if lines[i].startswith(r"\end{tabular}"))
        body = lines[start + 1 : stop]
        assert body[0] == r"\toprule" and body[2] == r"\midrule" and body[-1] == r"\bottomrule"
        for line in body:
            assert line.count("$") % 2 == 0
            if line.endswith(r"\\"):
                assert line.count("&") == n_columns - 1, line


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed")
def test_latex_compiles(grid: Path, tmp_path: Path) -> None:
    paths = write_leaderboards(grid, tmp_path, OPTIONS)
    document = tmp_path / "doc.tex"
    document.write_text(
        "\\documentclass{article}\n\\usepackage{booktabs,graphicx}\n\\begin{document}\n"
        f"\\input{{{paths['latex'].name}}}\n\\end{{document}}\n"
    )
    run = subprocess.run(
        ["pdflatex", "-halt-on-error", "-interaction=nonstopmode", document.name],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 0
    assert "Overfull" not in (tmp_path / "doc.log").read_text(errors="replace")


def test_filters_and_single_seed(grid: Path, tmp_path: Path) -> None:
    shutil.copytree(grid / "runs", tmp_path / "runs")
    only = leaderboard_frame(tmp_path, LeaderboardOptions(n_boot=50, protocols=("finetune",)))
    assert set(only["protocol"]) == {"finetune"}
    only = leaderboard_frame(tmp_path, LeaderboardOptions(n_boot=50, fractions=(1.0,)))
    assert set(only["fraction"]) == {1.0}
    for path in (tmp_path / "runs").glob("*-[12].json"):
        path.unlink()
    single = leaderboard_frame(tmp_path, LeaderboardOptions(n_boot=50))
    assert (single["n_seeds"] == 1).all() and single["std"].isna().all()
    markdown = write_leaderboards(tmp_path, options=LeaderboardOptions(n_boot=50))["markdown"]
    assert "±" not in markdown.read_text().split("The task's main metric on the test fold")[0]


def test_cli_writes_under_results(grid: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["leaderboard", "--results", str(grid), "--out", str(out), "--n-boot", "50"]) == 0
    assert (out / "leaderboard.tex").is_file()
    assert main(["leaderboard", "--results", str(tmp_path / "empty")]) == 2


def test_inconsistent_results_give_clear_errors(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    y = (rng.random((50, 2)) < 0.5).astype(int)
    first = _write_cell(tmp_path, "good", "rhythm", "linear", 0.1, 0, y, y + 0.0, np.arange(50))
    write_result(
        tmp_path,
        dataclasses.replace(first, eval_key="another-config"),
        Predictions(np.arange(50), y, y + 0.0),
    )
    with pytest.raises(DataError, match="two results for good / rhythm"):
        leaderboard_frame(tmp_path, OPTIONS)
    (tmp_path / "runs" / "another-config.json").unlink()
    _write_cell(tmp_path, "random_init", "rhythm", "linear", 0.1, 0, y, y * 0.5, np.arange(1, 51))
    with pytest.raises(DataError, match="different test records"):
        leaderboard_frame(tmp_path, OPTIONS)


def test_rows_of_collapsed_pretrainings_are_marked(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    y = (rng.random((60, 2)) < 0.5).astype(int)
    ids = np.arange(60)
    for seed in (0, 1):
        for method in ("flat", "fine"):
            cell = _write_cell(tmp_path, method, "rhythm", "linear", 1.0, seed, y, y + 0.0, ids)
            collapsed = method == "flat" and seed == 1  # one seed's encoder is enough
            flagged = dataclasses.replace(cell, pretraining={"collapse": {"collapsed": collapsed}})
            write_result(tmp_path, flagged, Predictions(ids, y, y + 0.0))
    frame = leaderboard_frame(tmp_path, LeaderboardOptions(n_boot=20))
    assert dict(zip(frame["method"], frame["collapsed"], strict=True)) == {
        "fine": False, "flat": True,
    }  # fmt: skip
    paths = write_leaderboards(tmp_path, options=LeaderboardOptions(n_boot=20))
    for kind in ("markdown", "latex"):
        text = paths[kind].read_text()
        assert "flat [collapsed]" in text and "fine [collapsed]" not in text
