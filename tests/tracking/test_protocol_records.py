"""MLflow records of the new cells: few-shot K where fractions show, per-class AUPRC, positives."""

from __future__ import annotations

from bench.grid.provenance import collect_provenance
from bench.grid.results import CellResult
from bench.tracking.naming import cell_run_name
from bench.tracking.records import cell_metrics, cell_params, cell_tags


def result(shots: int | None) -> CellResult:
    metrics = {
        "macro_auroc": 0.8,
        "per_class_auroc": {"MI": 0.7, "rare class": None},
        "per_class_auprc": {"MI": 0.4, "rare class": None},
        "test_positives": {"MI": 34, "rare class": 0},
    }
    return CellResult(
        eval_key="k1", pretrain_key=None, method="jepa", task="ptbxl-superdiagnostic",
        task_group="ptbxl", protocol="knn", fraction=0.0 if shots else 0.1, shots=shots, seed=1,
        profile="smoke", label_names=("MI", "rare class"), n_train=10, n_val=10, n_test=20,
        realised_fraction=0.01, config={}, provenance=collect_provenance("fp"), metrics=metrics,
    )  # fmt: skip


def test_a_few_shot_cell_shows_its_k() -> None:
    cell = result(shots=5)
    assert cell_run_name(cell) == "jepa · ptbxl-superdiagnostic · knn ·   5-shot · s1"
    assert cell_tags(cell, "d")["shots"] == "5" and cell_params(cell)["cell.shots"] == "5"
    fraction = result(shots=None)
    assert cell_run_name(fraction).endswith(" 10% · s1") and "shots" not in cell_tags(fraction, "d")


def test_per_class_auprc_and_test_positives_are_metrics() -> None:
    metrics = cell_metrics(result(shots=None))
    assert metrics["auprc.MI"] == 0.4 and metrics["auroc.MI"] == 0.7
    assert metrics["positives.MI"] == 34 and metrics["positives.rare_class"] == 0
    assert "auprc.rare_class" not in metrics  # not evaluable: no value
