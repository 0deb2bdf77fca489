"""Statistics that know their sample: every table shows each task's test records and classes
scored, a test set below the minimums gets no significance marker (and is marked too small to
test), and p-values at the bootstrap's resolution print as '< 1/(B+1)'.

Three tasks in one table, three seeds each, a method far better than random_init on all:
``tiny`` has 4 test records, ``rare`` 200 records but a class with 2 positives, ``large`` 200
records and every class with dozens.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.evaluation.metrics import evaluate_cell
from bench.evaluation.sample import describe_test_sample
from bench.grid.provenance import collect_provenance
from bench.grid.results import CellResult, Predictions, write_result
from bench.reporting.leaderboard import LeaderboardOptions, leaderboard_frame, write_leaderboards
from bench.reporting.outputs import write_paper_tables
from bench.reporting.page import write_report
from bench.tracking.records import cell_metrics, cell_tags

OPTIONS = LeaderboardOptions(n_boot=200)
SIZES = {"tiny": 4, "large": 200, "rare": 200}


def _labels(task: str) -> np.ndarray:
    if task == "tiny":  # A: 2 positives, B: 2 positives, C: none (left out)
        return np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 1, 0]])
    y = (np.random.default_rng(7).random((SIZES[task], 3)) < 0.3).astype(int)
    if task == "rare":
        y[:, 2] = 0
        y[[5, 9], 2] = 1
    return y


def _cell(results: Path, task: str, method: str, seed: int) -> CellResult:
    y = _labels(task)
    rng = np.random.default_rng([seed, len(method), len(task)])
    signal = 4.0 if method == "good" else 0.0
    scores = signal * y + rng.normal(size=y.shape)
    names = ("A", "B", "C")
    measured = evaluate_cell(y, scores, y, scores, names, n_boot=20)
    result = CellResult(
        eval_key=f"{method.replace('_', '')}-{task}-{seed}", pretrain_key=None, method=method,
        task=task, task_group="mixed", protocol="linear", fraction=1.0, seed=seed,
        profile="smoke", label_names=names, n_train=50, n_val=10, n_test=len(y),
        realised_fraction=1.0, config={}, provenance=collect_provenance("fp"),
        metrics=measured.metrics, ci=measured.ci,
        test_sample=describe_test_sample(y, names, "classes").as_dict(),
    )  # fmt: skip
    write_result(results, result, Predictions(np.arange(len(y)), y, scores))
    return result


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("small")
    for task in SIZES:
        for method in ("good", "random_init"):
            for seed in range(3):
                _cell(folder, task, method, seed)
    return folder


@pytest.fixture(scope="module")
def frame(results: Path) -> pd.DataFrame:
    return leaderboard_frame(results, OPTIONS).set_index(["task", "method"])


def test_each_entry_knows_its_test_sample(frame: pd.DataFrame) -> None:
    tiny = frame.loc[("tiny", "good")]
    assert (tiny["n_test"], tiny["n_scored"], tiny["n_classes"]) == (4, 2, 3)
    assert tiny["test_sample"] == "4 records · 2/3 classes"
    assert tiny["classes_left_out"] == "no positive in the test fold (1): C"
    assert tiny["min_class_count"] == 2
    assert frame.loc[("large", "good"), "n_test"] == 200


def test_a_too_small_test_set_gets_no_test_and_no_marker(frame: pd.DataFrame) -> None:
    tiny, large = frame.loc[("tiny", "good")], frame.loc[("large", "good")]
    rare = frame.loc[("rare", "good")]
    assert "4 test records (minimum 8 at 200 resamples)" in tiny["too_small"]
    assert "A (2 positives, 2 negatives)" in tiny["too_small"]
    assert rare["too_small"] == "classes under 3 positives or negatives: C (2 positives)"
    for entry in (tiny, rare):
        assert entry["markers"] == "" and np.isnan(entry["p_vs_random_init"])
        assert np.isnan(entry["p_adj_vs_random_init"])
        assert entry["diff_vs_random_init"] > 0.2  # the difference is still reported
    assert large["too_small"] == "" and large["markers"] == "†"


def test_tables_show_the_sample_and_the_mark(results: Path, tmp_path: Path) -> None:
    paths = write_leaderboards(results, tmp_path, OPTIONS)
    markdown = paths["markdown"].read_text()
    assert (
        "| *test set* | | 200 records · 3/3 classes | 200 records · 3/3 classes ◦ "
        "| 4 records · 2/3 classes ◦ |"
    ) in markdown
    good = next(line for line in markdown.splitlines() if line.startswith("| good |"))
    large_cell, rare_cell, tiny_cell = good.removesuffix(" |").split(" | ")[2:5]
    assert large_cell.endswith("†")
    for cell in (rare_cell, tiny_cell):
        assert cell.endswith("◦") and "†" not in cell
    assert "- tiny (profile smoke): 4 records · 2/3 classes; left out: no positive" in markdown
    assert "too small to test (◦): 4 test records (minimum 8 at 200 resamples)" in markdown
    latex = paths["latex"].read_text()
    assert r"4 records \textperiodcentered{} 2/3 classes$^{\circ}$" in latex
    csv = pd.read_csv(paths["csv"]).set_index(["task", "method"])
    assert csv.loc[("large", "good"), "p_vs_random_init"] == "< 0.005"  # 1/201, rounded up
    assert pd.isna(csv.loc[("tiny", "good"), "p_vs_random_init"])


def test_paper_tables_and_page_show_the_sample(results: Path, tmp_path: Path) -> None:
    frame = leaderboard_frame(results, OPTIONS)
    paths = write_paper_tables(results, tmp_path, OPTIONS, frame=frame)
    paper = paths["paper.md"].read_text()
    assert "Test set: 4 records · 2/3 classes; left out: no positive in the test fold" in paper
    tiny_table = paper.split("## tiny · linear probe", 1)[1]
    assert "| good | " in tiny_table and "◦" in tiny_table.split("| good | ", 1)[1].split("\n")[0]
    paper_csv = pd.read_csv(paths["paper.csv"]).set_index(["task", "method"])
    assert paper_csv.loc[("tiny", "good"), "n_test"] == 4
    page = write_report(results, tmp_path / "report", OPTIONS, frame=frame).read_text()
    assert "Test set: 4 records · 2/3 classes" in page and "◦" in page


def test_mlflow_mirrors_the_sample(results: Path) -> None:
    cell = _cell(results, "tiny", "good", 0)
    tags, metrics = cell_tags(cell, "digest"), cell_metrics(cell)
    assert tags["test_sample"] == "4 records · 2/3 classes"
    assert tags["classes_left_out"] == "no positive in the test fold (1): C"
    assert "4 test records (minimum 5 at 20 resamples)" in tags["too_small_to_test"]
    assert metrics["n_test"] == 4 and metrics["n_classes_scored"] == 2
    assert metrics["positives.A"] == 2 and metrics["positives.C"] == 0
