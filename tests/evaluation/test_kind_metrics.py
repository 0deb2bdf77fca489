"""Multiclass and regression metrics: sklearn/scipy values, exact resamples, CIs, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import pearsonr
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    mean_absolute_error,
    r2_score,
    roc_auc_score,
)

from bench.evaluation.bootstrap import resample_counts
from bench.evaluation.kind_metrics import (
    _macro_f1,
    evaluate_multiclass,
    evaluate_regression,
    regression_scores,
)
from bench.evaluation.metrics import MetricError
from bench.task import METRIC_DIRECTIONS


def multiclass_case(n: int = 120, c: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, c, n)
    scores = rng.random((n, c)) + 0.8 * np.eye(c)[truth]
    return np.eye(c)[truth], scores / scores.sum(1, keepdims=True), truth


def test_multiclass_metrics_match_sklearn() -> None:
    y_true, scores, truth = multiclass_case()
    result = evaluate_multiclass(y_true, scores, ["a", "b", "c", "d"], n_boot=200)
    predicted = scores.argmax(1)
    assert result.metrics["accuracy"] == pytest.approx(accuracy_score(truth, predicted))
    assert result.metrics["macro_f1"] == pytest.approx(f1_score(truth, predicted, average="macro"))
    assert result.metrics["macro_auroc"] == pytest.approx(
        roc_auc_score(y_true, scores, average="macro")
    )
    for name in ("accuracy", "macro_f1", "macro_auroc"):
        low, high = result.ci[name]
        assert low <= result.metrics[name] <= high


def test_multiclass_resampled_f1_equals_f1_of_the_resampled_rows() -> None:
    y_true, scores, truth = multiclass_case(40, 3, 1)
    indices = np.random.default_rng(2).integers(0, 40, (1, 40))
    one_hot = np.eye(3)[scores.argmax(1)]
    got = _macro_f1(y_true, one_hot, resample_counts(indices, 40), np.arange(3))[0]
    rows = indices[0]
    expected = f1_score(
        truth[rows], scores.argmax(1)[rows], labels=[0, 1, 2], average="macro", zero_division=0
    )
    assert got == pytest.approx(expected)


def test_regression_metrics_match_sklearn_and_scipy() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(60, 15, (200, 2))
    pred = y + rng.normal(0, 5, y.shape)
    result = evaluate_regression(y, pred, ["age", "hr"], n_boot=300)
    assert result.metrics["mae"] == pytest.approx(mean_absolute_error(y, pred))
    assert result.metrics["r2"] == pytest.approx(r2_score(y, pred))
    r = np.mean([pearsonr(y[:, k], pred[:, k])[0] for k in range(2)])
    assert result.metrics["pearson_r"] == pytest.approx(r)
    rmse = np.mean(np.sqrt(((y - pred) ** 2).mean(0)))
    assert result.metrics["rmse"] == pytest.approx(rmse)
    low, high = result.ci["mae"]
    assert low < result.metrics["mae"] < high
    indices = rng.integers(0, 200, (1, 200))
    resampled = regression_scores(y, pred, resample_counts(indices, 200))
    assert resampled["r2"][0, 0] == pytest.approx(r2_score(y[indices[0], 0], pred[indices[0], 0]))


def test_directions_and_bad_input() -> None:
    assert METRIC_DIRECTIONS["mae"] is False and METRIC_DIRECTIONS["macro_auroc"] is True
    y_true, scores, _ = multiclass_case()
    two_hot = y_true.copy()
    two_hot[0] = 1
    with pytest.raises(MetricError, match="one-hot"):
        evaluate_multiclass(two_hot, scores, list("abcd"))
    with pytest.raises(MetricError, match="NaN"):
        evaluate_regression(np.ones((3, 1)), np.full((3, 1), np.nan), ["age"])
