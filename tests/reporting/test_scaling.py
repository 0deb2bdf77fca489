"""Corpus rows in leaderboards and the data-scaling figure (score vs. pretraining records)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from bench.grid.provenance import collect_provenance
from bench.grid.results import CellResult, Predictions, write_result
from bench.reporting.corpus_rows import base_method, row_name
from bench.reporting.leaderboard import leaderboard_frame
from bench.reporting.scaling import scaling_frame, write_scaling_figures

SIZES = {100: 0.6, 1000: 0.7, 5000: 0.8}


def result(size: int | None, seed: int, auroc: float) -> CellResult:
    corpus = None if size is None else {"name": "pool", "label": f"pool ({size} records)",
                                        "records": size}  # fmt: skip
    return CellResult(
        eval_key=f"k{size}s{seed}", pretrain_key=f"p{size}", method="jepa", task="t",
        task_group="g", protocol="linear", fraction=1.0, seed=seed, profile="smoke",
        label_names=("A", "B"), n_train=10, n_val=5, n_test=40, realised_fraction=1.0,
        config={}, provenance=collect_provenance("fp"), metrics={"macro_auroc": auroc},
        pretraining={} if corpus is None else {"corpus": corpus},
    )  # fmt: skip


def test_rows_name_the_corpus() -> None:
    assert row_name(result(None, 0, 0.5)) == "jepa"
    assert row_name(result(100, 0, 0.5)) == "jepa@pool (100 records)"
    assert base_method("jepa@pool (100 records)") == "jepa"


def test_scaling_frame_averages_seeds_per_size() -> None:
    results = [result(size, seed, auroc + 0.02 * seed) for size, auroc in SIZES.items()
               for seed in (0, 1)]  # fmt: skip
    frame = scaling_frame([*results, result(None, 0, 0.9)])
    assert list(frame["records"]) == [100, 1000, 5000]
    assert np.allclose(frame["mean"], [0.61, 0.71, 0.81])
    assert np.allclose(frame["std"], np.std([0.0, 0.02], ddof=1))
    assert set(frame["n_seeds"]) == {2}


def test_figure_and_leaderboard_from_result_files(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    truth = (rng.random((40, 2)) < 0.5).astype(np.float32)
    for size, strength in {**SIZES, None: 0.5}.items():
        score = truth * strength * 3 + rng.normal(size=truth.shape)
        cell = dataclasses.replace(
            result(size, 0, 0.5), metrics={"macro_auroc": roc_auc_score(truth, score)}
        )
        write_result(tmp_path, cell, Predictions(np.arange(40), truth, score))
    written = write_scaling_figures(tmp_path)
    assert [p.name for p in written] == ["scaling_t_linear_1_smoke.png"]
    assert written[0].with_suffix(".pdf").is_file()
    table = pd.read_csv(written[0].with_suffix(".csv"))
    assert list(table["records"]) == [100, 1000, 5000]
    board = leaderboard_frame(tmp_path)
    assert set(board["method"]) == {"jepa", *(f"jepa@pool ({s} records)" for s in SIZES)}
