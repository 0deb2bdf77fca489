"""One evaluation cell: fraction subset, linear probe or fine-tune, metrics, result record.

``run_cell`` selects on the validation fold (9) and reports on the test fold (10);
``validation_score`` (used by ``bench tune``) fits the same way but scores the validation fold
only: it never indexes, embeds or scores a test record. Both go through ``fit_protocol``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench import __version__
from bench.config import to_dict
from bench.evaluation.finetune import WindowedEval, finetune
from bench.evaluation.fractions import task_fraction_rows
from bench.evaluation.metrics import evaluate_cell, macro_auroc
from bench.evaluation.probe import linear_probe
from bench.evaluation.windows import apply_windowed
from bench.grid.plan import Cell
from bench.grid.results import CellResult, Predictions, collect_provenance
from bench.grid.workspace import Workspace
from bench.task import TaskData


@dataclass(frozen=True)
class CellRows:
    """Row indices into a TaskData: the labelled fraction, validation, and the rows scored at
    the end by the selected model (the test fold for a result, validation when tuning)."""

    train: np.ndarray
    val: np.ndarray
    report: np.ndarray


@dataclass(frozen=True)
class ProtocolFit:
    """Scores of the model the protocol selected on validation, and how it selected."""

    val_scores: np.ndarray
    report_scores: np.ndarray
    details: dict[str, Any]


@dataclass(frozen=True)
class ValidationScore:
    """Validation (fold 9) macro AUROC of one cell's protocol, and how it selected."""

    macro_auroc: float
    n_train: int
    n_val: int
    details: dict[str, Any]


def fit_protocol(
    cell: Cell, workspace: Workspace, data: TaskData, rows: CellRows, inputs: np.ndarray
) -> ProtocolFit:
    """Fit the cell's protocol on ``rows.train``, select on ``rows.val``, score ``rows.report``.

    ``inputs`` is row-aligned with ``data``: per-record embeddings for the linear probe, the
    signals for fine-tuning. Only the rows in ``rows`` are read from it.
    """
    evaluation = workspace.profile.evaluation
    if cell.protocol == "linear":
        probe = linear_probe(
            (inputs[rows.train], data.labels[rows.train]),
            (inputs[rows.val], data.labels[rows.val]),
            inputs[rows.report],
            evaluation.linear,
        )
        details: dict[str, Any] = {"best_c": probe.best_c, "val_auroc_by_c": probe.val_auroc_by_c}
        return ProtocolFit(probe.val_scores, probe.test_scores, details)
    window, stride = workspace.window(workspace.dataset(cell.task.dataset))
    tuned = finetune(
        workspace.encoder(cell.unit, cell.seed),
        (inputs[rows.train], data.labels[rows.train]),
        (inputs[rows.val], data.labels[rows.val]),
        inputs[rows.report],
        evaluation.finetune,
        WindowedEval(window, stride, evaluation.aggregate, evaluation.batch_size),
        workspace.device,
        cell.seed,
        encoder_lr_scale=None if cell.unit.needs_pretraining else 1.0,
        progress=workspace.progress,
    )
    details = {"best_step": tuned.best_step, "steps": tuned.steps, "val_curve": tuned.val_curve}
    return ProtocolFit(tuned.val_scores, tuned.test_scores, details)


def run_cell(cell: Cell, workspace: Workspace) -> tuple[CellResult, Predictions]:
    """Evaluate ``cell``: select on fold 9, report on fold 10 (scored once, at the end)."""
    started = time.perf_counter()
    data = workspace.task_data(cell.task)
    train_rows = data.split_indices("train")
    subset = task_fraction_rows(data, cell.fraction, cell.seed)
    val, test = data.split_indices("val"), data.split_indices("test")
    workspace.encoder(cell.unit, cell.seed)
    timings = {"encoder_s": time.perf_counter() - started}
    inputs = data.signals
    if cell.protocol == "linear":
        inputs = workspace.embeddings(cell.unit, cell.seed).rows(data.record_ids)
        timings["embeddings_s"] = time.perf_counter() - started - timings["encoder_s"]
    fit = fit_protocol(cell, workspace, data, CellRows(subset, val, test), inputs)
    evaluation = workspace.profile.evaluation
    measured = evaluate_cell(
        data.labels[val],
        fit.val_scores,
        data.labels[test],
        fit.report_scores,
        data.label_names,
        test_record_ids=data.record_ids[test],
        n_boot=evaluation.n_boot,
        boot_seed=evaluation.boot_seed,
        level=evaluation.ci_level,
    )
    timings["total_s"] = time.perf_counter() - started
    result = CellResult(
        **cell.identity(),
        profile=workspace.profile.name,
        label_names=data.label_names,
        n_train=len(subset),
        n_val=len(val),
        n_test=len(test),
        realised_fraction=len(subset) / len(train_rows),
        config=cell_config(cell, workspace, fit.details),
        provenance=collect_provenance(data.fingerprint),
        metrics=measured.metrics,
        ci=measured.ci,
        timings=timings,
    )
    predictions = Predictions(data.record_ids[test], data.labels[test], fit.report_scores)
    return result, predictions


def validation_score(cell: Cell, workspace: Workspace) -> ValidationScore:
    """The cell's protocol fitted as ``run_cell`` fits it, scored on the validation fold only.

    The test fold is never indexed: the selected model scores validation as its report rows,
    and the linear probe embeds only the labelled fraction and validation (no embedding cache,
    which would hold every record). Pretraining goes through the keyed, resumable path.
    """
    data = workspace.task_data(cell.task)
    subset = task_fraction_rows(data, cell.fraction, cell.seed)
    val = data.split_indices("val")
    rows = CellRows(subset, val, val)
    inputs = data.signals
    if cell.protocol == "linear":
        inputs = _embedded_rows(cell, workspace, data, np.union1d(subset, val))
    fit = fit_protocol(cell, workspace, data, rows, inputs)
    score = macro_auroc(data.labels[val], fit.val_scores)
    return ValidationScore(score, len(subset), len(val), fit.details)


def _embedded_rows(
    cell: Cell, workspace: Workspace, data: TaskData, rows: np.ndarray
) -> np.ndarray:
    """Frozen embeddings of ``rows`` only, in a row-aligned array (other rows are NaN)."""
    encoder = workspace.encoder(cell.unit, cell.seed).to(workspace.device).eval()
    window, stride = workspace.window(workspace.dataset(cell.task.dataset))
    batch = workspace.profile.evaluation.batch_size
    embedded = apply_windowed(
        data.signals[rows], encoder.embed, window, stride, "mean", workspace.device, batch
    )
    features = np.full((len(data.labels), embedded.shape[1]), np.nan, dtype=np.float32)
    features[rows] = embedded
    return features


def cell_config(cell: Cell, workspace: Workspace, details: dict[str, Any]) -> dict[str, Any]:
    """Everything that defines the cell, as plain data, plus how the protocol selected."""
    setup = cell.unit.setup
    return {
        "bench_version": __version__,
        "unit_key": cell.unit.key,
        "dataset": cell.unit.dataset,
        "task_version": cell.task.version,
        "method_config": to_dict(setup.method_config),
        "train": setup.train.learning_dict() if cell.unit.needs_pretraining else None,
        "preprocessing": to_dict(setup.preprocessing),
        "window_s": setup.window_s,
        "evaluation": to_dict(workspace.profile.evaluation),
        "selection": details,
    }
