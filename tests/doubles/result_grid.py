"""A hand-made finished grid for reporting tests: result files whose predictions give known
macro AUROCs (methods x tasks x fractions x seeds, linear probe), and a pretraining folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from bench.grid.provenance import collect_provenance
from bench.grid.results import CellResult, Predictions, write_result

METHODS = {"alpha": 2.0, "beta": 1.0, "random_init": 0.3}  # signal strength: alpha best
TASKS = ("task-a", "task-b")
FRACTIONS = (0.1, 1.0)
SEEDS = (0, 1)
N_TEST, LABELS = 80, ("A", "B", "C")
PRETRAIN_KEY = "a1b2c3d4e5f6"


@dataclass(frozen=True)
class ResultGrid:
    """The grid's results folder and the macro AUROC of every cell."""

    results: Path
    scores: dict[tuple[str, str, float, int], float]  # (method, task, fraction, seed) -> AUROC

    def mean(self, method: str, task: str, fraction: float) -> float:
        """Seed mean of one entry."""
        return float(np.mean([self.scores[(method, task, fraction, s)] for s in SEEDS]))


def write_result_grid(results: Path) -> ResultGrid:
    """Write every cell's result file (and predictions) and one pretraining's history."""
    scores = {}
    for t, task in enumerate(TASKS):
        truth = (np.random.default_rng(100 + t).random((N_TEST, len(LABELS))) < 0.4).astype(
            np.float32
        )
        for m, (method, strength) in enumerate(METHODS.items()):
            for fraction in FRACTIONS:
                for seed in SEEDS:
                    rng = np.random.default_rng([t, m, int(fraction * 10), seed])
                    score = truth * strength * fraction**0.5 + rng.normal(size=truth.shape)
                    key = f"{method}-{task}-{int(fraction * 100)}-{seed}".replace("_", "")
                    auroc = float(roc_auc_score(truth, score, average="macro"))
                    scores[(method, task, fraction, seed)] = auroc
                    result = _result(key, method, task, fraction, seed, auroc)
                    write_result(results, result, Predictions(np.arange(N_TEST), truth, score))
    history = results / "pretrain" / f"alpha-{PRETRAIN_KEY}" / "history.csv"
    history.parent.mkdir(parents=True)
    steps = np.arange(1, 41)
    pd.DataFrame({"step": steps, "lr": 1e-3, "loss": 3.0 / np.sqrt(steps)}).to_csv(
        history, index=False
    )
    return ResultGrid(results, scores)


def _result(
    key: str, method: str, task: str, fraction: float, seed: int, auroc: float
) -> CellResult:
    return CellResult(
        eval_key=key, pretrain_key=PRETRAIN_KEY if method == "alpha" else None, method=method,
        task=task, task_group="toys", protocol="linear", fraction=fraction, seed=seed,
        profile="smoke", label_names=LABELS, n_train=int(200 * fraction), n_val=40,
        n_test=N_TEST, realised_fraction=fraction, config={}, provenance=collect_provenance("fp"),
        metrics={"macro_auroc": auroc}, timings={"total_s": 2.0},
    )  # fmt: skip


@pytest.fixture
def result_grid(tmp_path: Path) -> ResultGrid:
    """A finished 3-method x 2-task x 2-fraction x 2-seed grid under ``tmp_path/results``."""
    return write_result_grid(tmp_path / "results")
