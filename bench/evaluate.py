"""One evaluation cell: fraction subset, linear probe or fine-tune, metrics, result record."""

from __future__ import annotations

import time
from typing import Any

from bench import __version__
from bench.config import to_dict
from bench.finetune import WindowedEval, finetune
from bench.fractions import task_fraction_rows
from bench.grid import Cell
from bench.metrics import evaluate_cell
from bench.probe import linear_probe
from bench.results import CellResult, Predictions, collect_provenance
from bench.workspace import Workspace


def run_cell(cell: Cell, workspace: Workspace) -> tuple[CellResult, Predictions]:
    """Evaluate ``cell``: select on fold 9, report on fold 10 (scored once, at the end)."""
    started = time.perf_counter()
    data = workspace.task_data(cell.task)
    train_rows = data.split_indices("train")
    subset = task_fraction_rows(data, cell.fraction, cell.seed)
    val, test = data.split_indices("val"), data.split_indices("test")
    encoder = workspace.encoder(cell.unit, cell.seed)
    timings = {"encoder_s": time.perf_counter() - started}
    evaluation = workspace.profile.evaluation
    if cell.protocol == "linear":
        features = workspace.embeddings(cell.unit, cell.seed).rows(data.record_ids)
        timings["embeddings_s"] = time.perf_counter() - started - timings["encoder_s"]
        probe = linear_probe(
            (features[subset], data.labels[subset]),
            (features[val], data.labels[val]),
            features[test],
            evaluation.linear,
            cell.seed,
        )
        val_scores, test_scores = probe.val_scores, probe.test_scores
        details: dict[str, Any] = {"best_c": probe.best_c, "val_auroc_by_c": probe.val_auroc_by_c}
    else:
        window, stride = workspace.window(workspace.dataset(cell.task.dataset))
        from_scratch = not cell.unit.needs_pretraining
        tuned = finetune(
            encoder,
            (data.signals[subset], data.labels[subset]),
            (data.signals[val], data.labels[val]),
            data.signals[test],
            evaluation.finetune,
            WindowedEval(window, stride, evaluation.aggregate, evaluation.batch_size),
            workspace.device,
            cell.seed,
            encoder_lr_scale=1.0 if from_scratch else None,
            progress=workspace.progress,
        )
        val_scores, test_scores = tuned.val_scores, tuned.test_scores
        details = {"best_step": tuned.best_step, "steps": tuned.steps, "val_curve": tuned.val_curve}
    measured = evaluate_cell(
        data.labels[val],
        val_scores,
        data.labels[test],
        test_scores,
        data.label_names,
        test_record_ids=data.record_ids[test],
        n_boot=evaluation.n_boot,
        boot_seed=evaluation.boot_seed,
        level=evaluation.ci_level,
    )
    timings["total_s"] = time.perf_counter() - started
    result = CellResult(
        eval_key=cell.eval_key,
        pretrain_key=cell.unit.key if cell.unit.needs_pretraining else None,
        method=cell.unit.method,
        task=cell.task.name,
        task_group=cell.task.group,
        protocol=cell.protocol,
        fraction=cell.fraction,
        seed=cell.seed,
        profile=workspace.profile.name,
        label_names=data.label_names,
        n_train=len(subset),
        n_val=len(val),
        n_test=len(test),
        realised_fraction=len(subset) / len(train_rows),
        config=cell_config(cell, workspace, details),
        provenance=collect_provenance(data.fingerprint),
        metrics=measured.metrics,
        ci=measured.ci,
        timings=timings,
    )
    predictions = Predictions(data.record_ids[test], data.labels[test], test_scores)
    return result, predictions


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
