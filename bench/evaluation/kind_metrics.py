"""Metrics of the single-label (multiclass) and regression task kinds, with bootstrap CIs.

- multiclass: ``y_true`` one-hot [N, C], ``y_score`` class probabilities [N, C]; the predicted
  class is the arg-max (no threshold to choose). Accuracy, macro F1 (over the classes present in
  the test fold), macro one-vs-rest AUROC and AUPRC (over the classes with positives and
  negatives there), each class's AUROC and AUPRC and its positive test records.
- regression: ``y_true`` / ``y_pred`` [N, K] in the targets' own units; MAE, RMSE, R² and
  Pearson r per target and averaged over targets (the reported value).
CIs (none with ``n_boot=0``, as for selection on validation): percentile intervals over the
same resample indices as the multi-label metrics (``bench.evaluation.bootstrap``; test rows
sorted by record id when ids are given); each resample is a count-weighted statistic, exactly
the metric on the resampled rows.
Which way is better for each metric: ``bench.task.METRIC_DIRECTIONS``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import f1_score

from bench.evaluation.bootstrap import (
    DEFAULT_LEVEL,
    DEFAULT_N_BOOT,
    bootstrap_indices,
    class_auroc_auprc,
    nan_row_mean,
    percentile_ci,
    resample_counts,
    valid_resamples,
)
from bench.evaluation.metrics import (
    CellMetrics,
    MetricError,
    class_positives,
    per_class_auprc,
    per_class_auroc,
    valid_classes,
)

MULTICLASS_METRICS = ("accuracy", "macro_f1", "macro_auroc", "macro_auprc")
REGRESSION_METRICS = ("mae", "rmse", "r2", "pearson_r")


def evaluate_multiclass(
    test_true: np.ndarray,
    test_score: np.ndarray,
    label_names: Sequence[str],
    *,
    test_record_ids: np.ndarray | None = None,
    n_boot: int = DEFAULT_N_BOOT,
    boot_seed: int = 0,
    level: float = DEFAULT_LEVEL,
) -> CellMetrics:
    """Accuracy, macro F1 and macro AUROC of arg-max predictions on test, with CIs."""
    y_true, y_score = _ordered(test_true, test_score, test_record_ids)
    if not np.isin(y_true, (0, 1)).all() or not (y_true.sum(axis=1) == 1).all():
        raise MetricError("multiclass labels must be one-hot: exactly one class per record")
    if y_true.shape[1] != len(label_names):
        raise MetricError(f"{len(label_names)} class names for {y_true.shape[1]} columns")
    truth, predicted = y_true.argmax(axis=1), y_score.argmax(axis=1)
    present = np.flatnonzero(y_true.any(axis=0))
    one_hot = np.eye(y_true.shape[1])[predicted]
    valid = valid_classes(y_true)
    if not valid.any():
        raise MetricError("the test fold holds a single class: macro AUROC is undefined")
    auroc, auprc = per_class_auroc(y_true, y_score), per_class_auprc(y_true, y_score)
    metrics: dict[str, Any] = {
        "accuracy": float(np.mean(truth == predicted)),
        "macro_f1": float(
            f1_score(truth, predicted, labels=present, average="macro", zero_division=0)
        ),
        "macro_auroc": float(np.mean(auroc[valid])),
        "macro_auprc": float(np.mean(auprc[valid])),
        "per_class_auroc": _by_name(label_names, auroc),
        "per_class_auprc": _by_name(label_names, auprc),
        "test_positives": class_positives(label_names, y_true),
        "n_classes_evaluated": int(valid.sum()),
    }
    if n_boot == 0:
        return CellMetrics(metrics, {})
    resamples = valid_resamples(y_true, n_boot, boot_seed)
    counts = resample_counts(resamples.indices, len(y_true))
    class_auroc, class_auprc = class_auroc_auprc(y_true, y_score, counts)
    samples = {
        "accuracy": counts @ (truth == predicted) / len(y_true),
        "macro_f1": _macro_f1(y_true, one_hot, counts, present),
        "macro_auroc": nan_row_mean(class_auroc[:, valid]),
        "macro_auprc": nan_row_mean(class_auprc[:, valid]),
    }
    return CellMetrics(metrics, _ci(samples, n_boot, boot_seed, level, resamples.n_redrawn))


def evaluate_regression(
    test_true: np.ndarray,
    test_pred: np.ndarray,
    target_names: Sequence[str],
    *,
    test_record_ids: np.ndarray | None = None,
    n_boot: int = DEFAULT_N_BOOT,
    boot_seed: int = 0,
    level: float = DEFAULT_LEVEL,
) -> CellMetrics:
    """MAE, RMSE, R² and Pearson r on test (mean over targets, and per target), with CIs."""
    y_true, y_pred = _ordered(test_true, test_pred, test_record_ids)
    if y_true.shape[1] != len(target_names) or len(y_true) < 2:
        raise MetricError(
            f"regression needs >= 2 test records and {len(target_names)} target columns; "
            f"got {y_true.shape}"
        )
    whole = regression_scores(y_true, y_pred, np.ones((1, len(y_true))))
    metrics: dict[str, Any] = {name: float(whole[name][0].mean()) for name in REGRESSION_METRICS}
    for name in REGRESSION_METRICS:
        metrics[f"per_target_{name}"] = dict(
            zip(target_names, whole[name][0].tolist(), strict=True)
        )
    if n_boot == 0:
        return CellMetrics(metrics, {})
    counts = resample_counts(bootstrap_indices(len(y_true), n_boot, boot_seed), len(y_true))
    scores = regression_scores(y_true, y_pred, counts)
    samples = {name: scores[name].mean(axis=1) for name in REGRESSION_METRICS}
    return CellMetrics(metrics, _ci(samples, n_boot, boot_seed, level, 0))


def regression_scores(
    y_true: np.ndarray, y_pred: np.ndarray, counts: np.ndarray
) -> dict[str, np.ndarray]:
    """Each regression metric per target under record weights ``counts`` [B, N]: [B, K] each
    (R² and r are NaN where a resample's targets or predictions are constant)."""
    weights = counts / counts.sum(axis=1, keepdims=True)
    error = y_pred - y_true

    def mean(values: np.ndarray) -> np.ndarray:
        return weights @ values

    mse = mean(error**2)
    var_true = mean(y_true**2) - mean(y_true) ** 2
    var_pred = mean(y_pred**2) - mean(y_pred) ** 2
    cov = mean(y_true * y_pred) - mean(y_true) * mean(y_pred)
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = np.where(var_true > 1e-12, 1 - mse / var_true, np.nan)
        pearson = np.where((var_true > 1e-12) & (var_pred > 1e-12), cov / np.sqrt(
            np.clip(var_true * var_pred, 1e-300, None)), np.nan)  # fmt: skip
    return {"mae": mean(np.abs(error)), "rmse": np.sqrt(mse), "r2": r2, "pearson_r": pearson}


def _by_name(names: Sequence[str], values: np.ndarray) -> dict[str, float | None]:
    return {n: (float(v) if np.isfinite(v) else None) for n, v in zip(names, values, strict=True)}


def _macro_f1(
    y_true: np.ndarray, one_hot: np.ndarray, counts: np.ndarray, present: np.ndarray
) -> np.ndarray:
    """Macro F1 per resample over the test fold's ``present`` classes (0 where a class has
    no true and no predicted record in the resample, as sklearn's zero_division=0)."""
    weights = counts.astype(np.float64)
    true, pred = y_true[:, present], one_hot[:, present]
    true_pos = weights @ (true * pred)
    denominator = 2 * true_pos + weights @ ((1 - true) * pred) + weights @ (true * (1 - pred))
    f1 = np.divide(2 * true_pos, denominator, out=np.zeros_like(true_pos), where=denominator > 0)
    return f1.mean(axis=1)


def _ordered(
    y_true: np.ndarray, y_score: np.ndarray, record_ids: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_score = np.asarray(y_true, np.float64), np.asarray(y_score, np.float64)
    if y_true.ndim != 2 or y_true.shape != y_score.shape or len(y_true) == 0:
        raise MetricError(f"labels {y_true.shape} and predictions {y_score.shape} must be [N, C]")
    if not np.isfinite(y_score).all() or not np.isfinite(y_true).all():
        raise MetricError("labels or predictions contain NaN or infinite values")
    if record_ids is not None:
        order = np.argsort(np.asarray(record_ids), kind="stable")
        y_true, y_score = y_true[order], y_score[order]
    return y_true, y_score


def _ci(
    samples: dict[str, np.ndarray], n_boot: int, seed: int, level: float, redrawn: int
) -> dict[str, Any]:
    ci: dict[str, Any] = {"level": level, "n_boot": n_boot, "seed": seed, "n_redrawn": redrawn}
    ci.update({name: list(percentile_ci(values, level)) for name, values in samples.items()})
    return ci


def resampled_main_metric(
    metric: str, y_true: np.ndarray, y_score: np.ndarray, indices: np.ndarray
) -> np.ndarray:
    """``metric`` of a multiclass or regression cell on every resample [B] (as the cell's CI)."""
    counts = resample_counts(indices, len(y_true))
    if metric in REGRESSION_METRICS:
        return regression_scores(y_true, y_score, counts)[metric].mean(axis=1)
    truth, predicted = y_true.argmax(axis=1), y_score.argmax(axis=1)
    if metric == "accuracy":
        return counts @ (truth == predicted) / len(y_true)
    if metric == "macro_f1":
        present = np.flatnonzero(y_true.any(axis=0))
        return _macro_f1(y_true, np.eye(y_true.shape[1])[predicted], counts, present)
    if metric in ("macro_auroc", "macro_auprc"):
        valid = valid_classes(y_true)
        scores = class_auroc_auprc(y_true, y_score, counts)[metric == "macro_auprc"]
        return nan_row_mean(scores[:, valid])
    raise MetricError(f"no resampled form of metric {metric!r}")
