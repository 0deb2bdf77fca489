"""Multi-label metrics of one evaluation cell: macro AUROC (main), AUPRC, F1, bootstrap CIs.

Conventions (y_true [N, C] in {0, 1}, y_score [N, C] any real scores):
- A class is evaluated only where the evaluated set holds both positives and negatives; the
  others are listed in ``excluded_classes`` and get ``None`` per-class values, never a silent NaN.
  ``test_positives`` holds each class's positive test records, beside its per-class AUROC and
  AUPRC (a class with a handful of positives has a noisy AUROC: see ``bench leaderboard
  --per-class``).
  Macro AUROC is sklearn's ``roc_auc_score(average="macro")`` over the evaluated classes, macro
  AUPRC the mean of sklearn's ``average_precision_score`` over them, macro F1 likewise.
- F1 thresholds are chosen per class on the VALIDATION predictions (the score maximising that
  class's F1, predicting positive when ``score >= threshold``; the highest on ties) and applied
  unchanged to test.
  A class without validation positives gets a threshold just above its highest validation
  score (nothing there is predicted positive).
- CIs come from ``bench.evaluation.bootstrap`` with fixed resample indices over the test records
  (sorted by record id when ids are given), percentile intervals at ``level`` (0.9 by default);
  resamples leaving an evaluated class without positives or negatives are redrawn, and
  ``ci["n_redrawn"]`` says how many were (``ci["n_partial"]``: resamples scored without a class
  where nearly all miss one, see ``bench.evaluation.bootstrap.valid_resamples``).

scikit-learn (seconds to import) is imported by the functions that score with it, so a task
plugin naming these helpers (``bench list tasks``) loads without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.evaluation.bootstrap import (
    DEFAULT_LEVEL,
    DEFAULT_N_BOOT,
    percentile_ci,
    resampled_macro_scores,
    valid_resamples,
)

MAIN_METRICS = ("macro_auroc", "macro_auprc", "macro_f1")


class MetricError(BenchError, ValueError):
    """Predictions that cannot be scored (bad shapes, non-binary labels, no evaluable class)."""


@dataclass(frozen=True)
class CellMetrics:
    """Everything measured for one cell: ``metrics`` and ``ci`` go into its result file."""

    metrics: dict[str, Any]
    ci: dict[str, Any]


def valid_classes(y_true: np.ndarray) -> np.ndarray:
    """Boolean mask [C] of the classes with at least one positive and one negative record."""
    positives = np.asarray(y_true).sum(axis=0)
    return (positives > 0) & (positives < len(y_true))


def per_class_auroc(y_true: np.ndarray, y_score: np.ndarray) -> np.ndarray:
    """AUROC of each class [C]; NaN for the classes that ``valid_classes`` excludes."""
    from sklearn.metrics import roc_auc_score

    return _per_class(roc_auc_score, *_checked(y_true, y_score))


def per_class_auprc(y_true: np.ndarray, y_score: np.ndarray) -> np.ndarray:
    """Average precision of each class [C]; NaN for the excluded classes."""
    from sklearn.metrics import average_precision_score

    return _per_class(average_precision_score, *_checked(y_true, y_score))


def macro_auroc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """sklearn macro AUROC over the valid classes; MetricError when no class is valid."""
    from sklearn.metrics import roc_auc_score

    y_true, y_score = _checked(y_true, y_score)
    valid = _require_valid(y_true)
    return float(roc_auc_score(y_true[:, valid], y_score[:, valid], average="macro"))


def macro_auprc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Mean average precision over the valid classes; MetricError when no class is valid."""
    from sklearn.metrics import average_precision_score

    y_true, y_score = _checked(y_true, y_score)
    valid = _require_valid(y_true)
    return float(average_precision_score(y_true[:, valid], y_score[:, valid], average="macro"))


def f1_thresholds(val_true: np.ndarray, val_score: np.ndarray) -> np.ndarray:
    """Per-class thresholds [C] maximising F1 on the validation predictions.

    Candidates are the distinct validation scores (predict positive when ``score >= t``);
    among equally good ones the highest wins.
    """
    val_true, val_score = _checked(val_true, val_score, "validation")
    thresholds = np.empty(val_true.shape[1])
    for c in range(val_true.shape[1]):
        order = np.argsort(-val_score[:, c], kind="stable")
        scores, labels = val_score[order, c], val_true[order, c]
        if not labels.any():
            thresholds[c] = np.nextafter(scores[0], np.inf)
            continue
        group_ends = np.flatnonzero(np.r_[scores[1:] != scores[:-1], True])
        true_pos = np.cumsum(labels)[group_ends]
        predicted = group_ends + 1
        f1 = 2 * true_pos / (predicted + labels.sum())  # 2 TP / (2 TP + FP + FN)
        thresholds[c] = scores[group_ends[int(np.argmax(f1))]]
    return thresholds


def per_class_f1(y_true: np.ndarray, y_score: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """F1 of each class [C] at fixed ``thresholds``; NaN for the excluded classes."""
    from sklearn.metrics import f1_score

    y_true, y_score = _checked(y_true, y_score)
    if np.shape(thresholds) != (y_true.shape[1],):
        raise MetricError(f"expected {y_true.shape[1]} thresholds, got {np.shape(thresholds)}")
    predicted = (y_score >= np.asarray(thresholds)[None, :]).astype(np.int64)
    valid = valid_classes(y_true)
    scores = np.full(y_true.shape[1], np.nan)
    if valid.any():
        scores[valid] = f1_score(
            y_true[:, valid], predicted[:, valid], average=None, zero_division=0
        )
    return scores


def evaluate_cell(
    val_true: np.ndarray,
    val_score: np.ndarray,
    test_true: np.ndarray,
    test_score: np.ndarray,
    label_names: Sequence[str],
    *,
    test_record_ids: np.ndarray | None = None,
    n_boot: int = DEFAULT_N_BOOT,
    boot_seed: int = 0,
    level: float = DEFAULT_LEVEL,
) -> CellMetrics:
    """All metrics of a cell: thresholds from validation, scores and bootstrap CIs on test."""
    test_true, test_score = _checked(test_true, test_score, "test")
    val_true, val_score = _checked(val_true, val_score, "validation")
    names = list(label_names)
    if len(names) != test_true.shape[1] or val_true.shape[1] != test_true.shape[1]:
        raise MetricError(
            f"{len(names)} label names, {val_true.shape[1]} validation and "
            f"{test_true.shape[1]} test classes: they must agree"
        )
    valid = _require_valid(test_true)
    thresholds = f1_thresholds(val_true, val_score)
    auroc = per_class_auroc(test_true, test_score)
    auprc = per_class_auprc(test_true, test_score)
    f1 = per_class_f1(test_true, test_score, thresholds)
    metrics = {
        "macro_auroc": float(np.mean(auroc[valid])),  # = roc_auc_score(average="macro")
        "macro_auprc": float(np.mean(auprc[valid])),
        "macro_f1": float(np.mean(f1[valid])),
        "per_class_auroc": _by_name(names, auroc),
        "per_class_auprc": _by_name(names, auprc),
        "per_class_f1": _by_name(names, f1),
        "test_positives": class_positives(names, test_true),
        "f1_thresholds": _by_name(names, thresholds),
        "excluded_classes": [name for name, ok in zip(names, valid, strict=True) if not ok],
        "n_classes_evaluated": int(valid.sum()),
    }
    if test_record_ids is not None:
        order = np.argsort(np.asarray(test_record_ids), kind="stable")
        test_true, test_score = test_true[order], test_score[order]
    resamples = valid_resamples(test_true, n_boot, boot_seed)
    samples = resampled_macro_scores(test_true, test_score, resamples.indices, thresholds)
    ci: dict[str, Any] = {"level": level, "n_boot": n_boot, "seed": boot_seed}
    ci["n_redrawn"] = resamples.n_redrawn  # resamples redrawn for missing a class's positives
    ci["n_partial"] = resamples.n_partial  # resamples scored without a class (the fallback)
    ci.update({name: list(percentile_ci(samples[name], level)) for name in MAIN_METRICS})
    return CellMetrics(metrics=metrics, ci=ci)


def class_positives(names: Sequence[str], y_true: np.ndarray) -> dict[str, int]:
    """Each class's positive records in ``y_true`` [N, C] (0/1 labels), by name."""
    counts = (np.asarray(y_true) > 0.5).sum(axis=0)
    return {name: int(count) for name, count in zip(names, counts, strict=True)}


def _per_class(score: Any, y_true: np.ndarray, y_score: np.ndarray) -> np.ndarray:
    """sklearn ``score(average=None)`` on the valid classes; NaN for the others."""
    values = np.full(y_true.shape[1], np.nan)
    valid = valid_classes(y_true)
    if valid.any():
        values[valid] = score(y_true[:, valid], y_score[:, valid], average=None)
    return values


def _require_valid(y_true: np.ndarray) -> np.ndarray:
    valid = valid_classes(y_true)
    if not valid.any():
        raise MetricError(
            f"no class has both positive and negative records among the {len(y_true)} evaluated;"
            " macro AUROC is undefined"
        )
    return valid


def _checked(
    y_true: np.ndarray, y_score: np.ndarray, split: str = "evaluated"
) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_score = np.asarray(y_true), np.asarray(y_score, dtype=np.float64)
    if y_true.ndim != 2 or y_true.shape != y_score.shape or len(y_true) == 0:
        raise MetricError(
            f"{split} labels and scores must both be non-empty [N, C] arrays; "
            f"got {y_true.shape} and {y_score.shape}"
        )
    if not np.isin(y_true, (0, 1)).all():
        raise MetricError(f"{split} labels must be 0 or 1")
    if not np.isfinite(y_score).all():
        raise MetricError(f"{split} scores contain NaN or infinite values")
    return y_true.astype(np.int64), y_score


def _by_name(names: list[str], values: np.ndarray) -> dict[str, float | None]:
    return {
        name: (float(v) if np.isfinite(v) else None) for name, v in zip(names, values, strict=True)
    }
