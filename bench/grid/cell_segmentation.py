"""One cell of a segmentation task: frozen per-step head (linear) or fine-tuned, then the
delineation metrics of ``bench.evaluation.delineation`` on the test fold.

Selection is on the validation fold's main metric only; the test fold is predicted once. Metrics
pool every (record, lead) pair of the test records at 150 and 40 ms (NaN errors -> null in the
JSON), with percentile CIs over records. The predictions file holds, per test record, the true
and predicted masks of all leads flattened to [N, leads * T] (true: -1 unscored); the result's
``config["segmentation"]`` records the rate and the number of leads needed to unflatten them.
Noise robustness (``evaluation.noise``) is not applied to this kind.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from bench.errors import ConfigError
from bench.evaluation.delineation import delineation_bootstrap, delineation_metrics
from bench.evaluation.fractions import task_fraction_rows, task_validation_rows
from bench.evaluation.sample import describe_test_sample
from bench.evaluation.segmentation import SegmentationFit, frozen_segmentation, selection_score
from bench.evaluation.segmentation_finetune import finetune_segmentation
from bench.grid.cell_record import ValidationScore, cell_config
from bench.grid.plan import Cell
from bench.grid.provenance import collect_provenance
from bench.grid.results import CellResult, Predictions
from bench.grid.workspace import Workspace
from bench.task import TaskData

TOLERANCES_MS: tuple[int, ...] = (150, 40)


def fit_segmentation(
    cell: Cell, workspace: Workspace, data: TaskData, rows: tuple[np.ndarray, ...]
) -> SegmentationFit:
    """The cell's protocol on (labelled, validation, report) rows of ``data``."""
    signals, masks = data.signals, data.labels
    if not isinstance(signals, np.ndarray) or masks.ndim != 3:
        raise ConfigError(
            f"{cell.task.name}: segmentation needs records of one length and masks "
            f"[N, leads, T]; got signals {signals.shape} and labels {masks.shape}"
        )
    evaluation = cell.unit.evaluation
    encoder = workspace.encoder(cell.unit, cell.seed)
    window = workspace.window(workspace.unit_data(cell.unit), cell.unit)
    args = ((signals, masks), (rows[0], rows[1], rows[2]))
    common = (window, data.sampling_rate, cell.task.main_metric, workspace.device, cell.seed)
    if cell.protocol == "linear":
        return frozen_segmentation(
            encoder, *args, evaluation.segmentation, *common, evaluation.batch_size
        )
    return finetune_segmentation(
        encoder,
        *args,
        evaluation.finetune,
        *common,
        encoder_lr_scale=None if cell.unit.pretrained_encoder else 1.0,
        batch_size=evaluation.batch_size,
    )


def run_segmentation_cell(cell: Cell, workspace: Workspace) -> tuple[CellResult, Predictions]:
    """Evaluate a segmentation ``cell``: select on fold 9, report on fold 10."""
    started = time.perf_counter()
    data = workspace.task_data(cell.task, cell.unit.setup.preprocessing)
    evaluation = cell.unit.evaluation
    subset = task_fraction_rows(data, cell.fraction, cell.seed)
    val = task_validation_rows(data, cell.fraction, cell.seed, evaluation.val_fraction)
    test = data.split_indices("test")
    workspace.encoder(cell.unit, cell.seed)
    timings = {"encoder_s": time.perf_counter() - started}
    fit = fit_segmentation(cell, workspace, data, (subset, val, test))
    order = np.argsort(data.record_ids[test], kind="stable")
    test, report = test[order], fit.report_masks[order]
    metrics, ci = segmentation_metrics(cell, data, test, report)
    config = cell_config(cell, workspace, fit.details)
    n_leads, length = data.labels.shape[1:]
    config["segmentation"] = {
        "sampling_rate": data.sampling_rate,
        "n_leads": n_leads,
        "n_samples": length,
    }
    timings["total_s"] = time.perf_counter() - started
    result = CellResult(
        **cell.identity(),
        profile=workspace.profile.name,
        label_names=data.label_names,
        n_train=len(subset),
        n_val=len(val),
        n_test=len(test),
        realised_fraction=len(subset) / len(data.split_indices("train")),
        config=config,
        provenance=collect_provenance(data.fingerprint, folds=data.fold_spec),
        metrics=metrics,
        ci=ci,
        timings=timings,
        pretraining=workspace.pretraining(cell.unit, cell.seed),
        test_sample=describe_test_sample(data.labels[test], data.label_names, "masks").as_dict(),
    )
    flat_true = data.labels[test].reshape(len(test), -1)
    predictions = Predictions(
        data.record_ids[test], flat_true, report.reshape(len(test), -1).astype(np.float32)
    )
    return result, predictions


def segmentation_metrics(
    cell: Cell, data: TaskData, test: np.ndarray, predicted: np.ndarray
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Delineation metrics of the test records' masks and their CIs over records."""
    evaluation = cell.unit.evaluation
    length = data.labels.shape[-1]
    true = list(data.labels[test].reshape(-1, length).astype(np.int64))
    pred = list(predicted.reshape(-1, length).astype(np.int64))
    measured = delineation_metrics(true, pred, data.sampling_rate, TOLERANCES_MS)
    metrics: dict[str, Any] = {key: _finite(value) for key, value in measured.items()}
    metrics["main_metric"] = cell.task.main_metric
    records = np.repeat(data.record_ids[test], data.labels.shape[1])
    intervals = delineation_bootstrap(
        true,
        pred,
        records,
        data.sampling_rate,
        evaluation.n_boot,
        evaluation.boot_seed,
        evaluation.ci_level,
        TOLERANCES_MS,
    )
    ci: dict[str, Any] = {
        "level": evaluation.ci_level,
        "n_boot": evaluation.n_boot,
        "seed": evaluation.boot_seed,
        "n_redrawn": 0,
    }
    ci.update({key: [_finite(v) for v in bounds] for key, bounds in intervals.items()})
    return metrics, ci


def segmentation_validation_score(cell: Cell, workspace: Workspace) -> ValidationScore:
    """The cell's protocol fitted as in ``run_segmentation_cell``, scored on validation only
    (the validation rows are also its report rows: no test record is read)."""
    data = workspace.task_data(cell.task, cell.unit.setup.preprocessing)
    subset = task_fraction_rows(data, cell.fraction, cell.seed)
    val = task_validation_rows(data, cell.fraction, cell.seed, cell.unit.evaluation.val_fraction)
    fit = fit_segmentation(cell, workspace, data, (subset, val, val))
    score = selection_score(
        data.labels[val], fit.val_masks, data.sampling_rate, cell.task.main_metric
    )
    return ValidationScore(score, len(subset), len(val), fit.details)


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None
