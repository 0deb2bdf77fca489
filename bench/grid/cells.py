"""One evaluation cell: labelled subset (a label fraction, or K shots per class), one protocol
(linear probe, fine-tune, attentive probe, k-NN), metrics, result record.

``run_cell`` selects on the validation fold (9; with ``evaluation.val_fraction: same`` on its
subset at the cell's label fraction, and always on its K-shot subset for a few-shot cell) and
reports on the test fold (10);
``validation_score`` (used by ``bench tune``) fits the same way but scores the validation fold
only: it never indexes, embeds or scores a test record. Both go through ``fit_protocol``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.errors import ConfigError
from bench.evaluation.attentive import attentive_probe
from bench.evaluation.bootstrap import valid_resamples
from bench.evaluation.finetune import WindowedEval, finetune
from bench.evaluation.fractions import task_fraction_rows, task_validation_rows
from bench.evaluation.kind_metrics import evaluate_multiclass, evaluate_regression
from bench.evaluation.knn import knn_details, knn_protocol
from bench.evaluation.metrics import CellMetrics, evaluate_cell, macro_auroc
from bench.evaluation.objectives import Objective
from bench.evaluation.probe_cache import cached_linear_probe
from bench.evaluation.sample import describe_test_sample
from bench.evaluation.shots import task_shot_rows, task_shot_validation_rows
from bench.evaluation.windows import apply_windowed
from bench.grid.cell_noise import noise_metrics, noisy_inputs, noisy_test
from bench.grid.cell_record import ValidationScore, cell_config
from bench.grid.plan import Cell
from bench.grid.provenance import collect_provenance
from bench.grid.results import CellResult, Predictions
from bench.grid.workspace import Workspace
from bench.task import Task, TaskData, TaskKind


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
    extra_scores: tuple[np.ndarray, ...] = ()  # of the extra report inputs (noisy test folds)


def fit_protocol(
    cell: Cell,
    workspace: Workspace,
    data: TaskData,
    rows: CellRows,
    inputs: Any,
    kind: TaskKind = "multilabel",
    main_metric: str = "macro_auroc",
    extra_inputs: Sequence[Any] = (),
) -> ProtocolFit:
    """Fit the cell's protocol on ``rows.train``, select on ``rows.val``, score ``rows.report``.

    ``inputs`` is row-aligned with ``data``: per-record embeddings for the linear probe and
    k-NN, token features (``RecordTokens``) for the attentive probe, the signals for
    fine-tuning. Only the rows in ``rows`` are read from it.
    ``kind`` / ``main_metric``: the task's (probe, loss and selection follow them).
    ``extra_inputs`` (rows like ``inputs[rows.report]``) are scored by the selected model too.
    """
    evaluation = cell.unit.evaluation
    train = (inputs[rows.train], data.labels[rows.train])
    val = (inputs[rows.val], data.labels[rows.val])
    report = inputs[rows.report]
    if cell.protocol == "linear":  # the same inputs: one fit (bench.evaluation.probe_cache)
        probe = cached_linear_probe(
            train, val, report, evaluation.linear, kind, main_metric, extra_inputs
        )
        by_c = "val_auroc_by_c" if kind == "multilabel" else f"val_{probe.selection_metric}_by_c"
        details: dict[str, Any] = {"best_c": probe.best_c, by_c: probe.val_auroc_by_c}
        return ProtocolFit(probe.val_scores, probe.test_scores, details, probe.extra_scores)
    objective = Objective.for_task(kind, main_metric, data.labels[rows.train])
    if cell.protocol == "knn":
        found = knn_protocol(train, val, report, evaluation.knn, objective, extra_inputs)
        details = knn_details(found, main_metric)
        return ProtocolFit(found.val_scores, found.test_scores, details, found.extra_scores)
    if cell.protocol == "attentive":
        head = attentive_probe(
            train, val, report, evaluation.attentive, objective, workspace.device, cell.seed,
            extra_inputs,
        )  # fmt: skip
        return ProtocolFit(head.val_scores, head.test_scores, head.details, head.extra_scores)
    window, stride = workspace.window(workspace.unit_data(cell.unit), cell.unit)
    loss = evaluation.finetune
    huber = loss.huber_delta if loss.regression_loss == "huber" else None
    tuned = finetune(
        workspace.encoder(cell.unit, cell.seed),
        train,
        val,
        report,
        evaluation.finetune,
        WindowedEval(window, stride, evaluation.aggregate, evaluation.batch_size),
        workspace.device,
        cell.seed,
        encoder_lr_scale=None if cell.unit.pretrained_encoder else 1.0,
        progress=workspace.progress,
        named_head=cell.unit.named_head,
        objective=Objective.for_task(kind, main_metric, data.labels[rows.train], huber),
        extra_signals=extra_inputs,
        named_stages=cell.unit.finetune_stages,
    )
    details = {"best_step": tuned.best_step, "steps": tuned.steps, "val_curve": tuned.val_curve}
    if tuned.stage_steps:  # a multi-stage fine-tune (CPC's): the steps planned per stage
        details["stage_steps"] = list(tuned.stage_steps)
    return ProtocolFit(tuned.val_scores, tuned.test_scores, details, tuned.extra_scores)


def run_cell(cell: Cell, workspace: Workspace) -> tuple[CellResult, Predictions]:
    """Evaluate ``cell``: select on fold 9, report on fold 10 (scored once, at the end)."""
    if cell.task.kind == "segmentation":  # dense masks: bench.grid.cell_segmentation
        from bench.grid.cell_segmentation import run_segmentation_cell

        return run_segmentation_cell(cell, workspace)
    started = time.perf_counter()
    data = workspace.task_data(cell.task, cell.unit.setup.preprocessing)
    train_rows = data.split_indices("train")
    evaluation = cell.unit.evaluation
    subset, val = labelled_rows(cell, data)
    test = data.split_indices("test")
    noise_started = time.perf_counter()
    noisy = noisy_test(cell, workspace, data, test) if evaluation.noise.enabled else None
    noise_s = time.perf_counter() - noise_started
    workspace.encoder(cell.unit, cell.seed)
    timings = {"encoder_s": time.perf_counter() - started - noise_s}
    inputs: Any = data.signals
    if cell.protocol in ("linear", "knn"):
        inputs = workspace.embeddings(cell.unit, cell.seed).rows(data.record_ids)
        timings["embeddings_s"] = time.perf_counter() - started - timings["encoder_s"]
    elif cell.protocol == "attentive":
        inputs = workspace.tokens(cell.unit, cell.seed).rows(data.record_ids)
        timings["tokens_s"] = time.perf_counter() - started - timings["encoder_s"]
    rows = CellRows(subset, val, test)
    noise_started = time.perf_counter()
    noisy_in = noisy_inputs(cell, workspace, noisy) if noisy is not None else []
    if noisy is not None:
        timings["noise_inputs_s"] = noise_s + time.perf_counter() - noise_started
    fit = fit_protocol(
        cell, workspace, data, rows, inputs, cell.task.kind, cell.task.main_metric, noisy_in
    )
    measured = (
        kind_metrics(cell, data, test, fit)
        if cell.task.kind != "multilabel"
        else evaluate_cell(
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
    )
    extra, extra_ci = task_extra_metrics(cell, data, (val, test), fit)
    measured.metrics.update(extra)
    measured.ci.update(extra_ci)
    config = cell_config(cell, workspace, fit.details)
    if noisy is not None:
        by_level, by_level_ci = noise_metrics(cell, data, test, fit.extra_scores)
        measured.metrics.update(by_level)
        measured.ci.update(by_level_ci)
        config["noise_digests"] = {str(k): v for k, v in noisy.digests.items()}
    timings["total_s"] = time.perf_counter() - started
    result = CellResult(
        **cell.identity(),
        profile=workspace.profile.name,
        label_names=data.label_names,
        n_train=len(subset),
        n_val=len(val),
        n_test=len(test),
        realised_fraction=len(subset) / len(train_rows),
        config=config,
        provenance=collect_provenance(data.fingerprint, folds=data.fold_spec),
        metrics=measured.metrics,
        ci=measured.ci,
        timings=timings,
        pretraining=workspace.pretraining(cell.unit, cell.seed),
        test_sample=describe_test_sample(
            data.labels[test],
            data.label_names,
            "targets" if cell.task.kind == "regression" else "classes",
        ).as_dict(),
    )
    predictions = Predictions(data.record_ids[test], data.labels[test], fit.report_scores)
    return result, predictions


def labelled_rows(cell: Cell, data: TaskData) -> tuple[np.ndarray, np.ndarray]:
    """Row indices into ``data`` of the cell's labelled training subset and of the validation
    records that select its model: its label fraction's (``bench.evaluation.fractions``), or
    for a few-shot cell its K shots per class of each fold (``bench.evaluation.shots``)."""
    if cell.shots is not None:
        return (
            task_shot_rows(data, cell.shots, cell.seed),
            task_shot_validation_rows(data, cell.shots, cell.seed),
        )
    val_fraction = cell.unit.evaluation.val_fraction
    return (
        task_fraction_rows(data, cell.fraction, cell.seed),
        task_validation_rows(data, cell.fraction, cell.seed, val_fraction),
    )


def kind_metrics(cell: Cell, data: TaskData, test: np.ndarray, fit: ProtocolFit) -> CellMetrics:
    """Test metrics and CIs of a multiclass or regression cell (``bench.evaluation.kind_metrics``);
    ``metrics['main_metric']`` names the task's main metric."""
    evaluation = cell.unit.evaluation
    evaluate = evaluate_multiclass if cell.task.kind == "multiclass" else evaluate_regression
    measured = evaluate(
        data.labels[test],
        fit.report_scores,
        data.label_names,
        test_record_ids=data.record_ids[test],
        n_boot=evaluation.n_boot,
        boot_seed=evaluation.boot_seed,
        level=evaluation.ci_level,
    )
    measured.metrics["main_metric"] = cell.task.main_metric
    return measured


def task_extra_metrics(
    cell: Cell, data: TaskData, rows: tuple[np.ndarray, np.ndarray], fit: ProtocolFit
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The task's own metrics (``Task.extra_metrics``) on the test rows sorted by record id,
    with the same bootstrap resamples as the cell's other CIs."""
    if type(cell.task).extra_metrics is Task.extra_metrics:
        return {}, {}
    val, test = rows
    evaluation = cell.unit.evaluation
    order = np.argsort(data.record_ids[test], kind="stable")
    test_true, test_score = data.labels[test][order], fit.report_scores[order]
    indices = valid_resamples(test_true, evaluation.n_boot, evaluation.boot_seed).indices
    return cell.task.extra_metrics(
        (data.labels[val], fit.val_scores),
        (test_true, test_score),
        data.label_names,
        (indices, evaluation.ci_level),
    )


def validation_score(cell: Cell, workspace: Workspace) -> ValidationScore:
    """The cell's protocol fitted as ``run_cell`` fits it, scored on the validation fold only.

    The test fold is never indexed: the selected model scores validation as its report rows,
    and the linear probe embeds only the labelled fraction and validation (no embedding cache,
    which would hold every record). Pretraining goes through the keyed, resumable path.
    """
    if cell.task.kind == "segmentation":
        from bench.grid.cell_segmentation import segmentation_validation_score

        return segmentation_validation_score(cell, workspace)
    if cell.protocol == "attentive":
        raise ConfigError(
            "the attentive probe is not scored on validation alone (bench tune tunes the "
            "linear probe and fine-tuning)"
        )
    data = workspace.task_data(cell.task, cell.unit.setup.preprocessing)
    subset, val = labelled_rows(cell, data)
    rows = CellRows(subset, val, val)
    inputs = data.signals
    if cell.protocol in ("linear", "knn"):
        inputs = _embedded_rows(cell, workspace, data, np.union1d(subset, val))
    fit = fit_protocol(cell, workspace, data, rows, inputs, cell.task.kind, cell.task.main_metric)
    if cell.task.kind == "multilabel":
        score = macro_auroc(data.labels[val], fit.val_scores)
    else:  # the main metric, oriented so that higher is better (MAE negated)
        objective = Objective.for_task(cell.task.kind, cell.task.main_metric, data.labels[subset])
        score = objective.score(data.labels[val], fit.val_scores)
    return ValidationScore(score, len(subset), len(val), fit.details)


def _embedded_rows(
    cell: Cell, workspace: Workspace, data: TaskData, rows: np.ndarray
) -> np.ndarray:
    """Frozen embeddings of ``rows`` only, in a row-aligned array (other rows are NaN)."""
    encoder = workspace.encoder(cell.unit, cell.seed).to(workspace.device).eval()
    window, stride = workspace.window(workspace.unit_data(cell.unit), cell.unit)
    batch = cell.unit.evaluation.batch_size
    embedded = apply_windowed(
        data.signals[rows], encoder.embed, window, stride, "mean", workspace.device, batch
    )
    features = np.full((len(data.labels), embedded.shape[1]), np.nan, dtype=np.float32)
    features[rows] = embedded
    return features
