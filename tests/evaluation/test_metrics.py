"""Cell metrics: equal to sklearn, excluded classes reported, F1 thresholds from validation."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

from bench.evaluation.metrics import (
    MetricError,
    evaluate_cell,
    f1_thresholds,
    macro_auprc,
    macro_auroc,
    per_class_auroc,
    per_class_f1,
    valid_classes,
)

# The textbook example: AUROC 0.75, best-F1 threshold 0.35 (tp 2, fp 1 -> F1 0.8).
Y_SMALL = np.array([[0], [0], [1], [1]])
S_SMALL = np.array([[0.1], [0.4], [0.35], [0.8]])


def _random_cell(rng: np.random.Generator, n: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    y = (rng.random((n, classes)) < 0.3).astype(int)
    return y, y * 1.2 + rng.normal(size=y.shape)


def test_hand_checked_values_equal_sklearn() -> None:
    assert macro_auroc(Y_SMALL, S_SMALL) == pytest.approx(0.75)
    assert macro_auprc(Y_SMALL, S_SMALL) == pytest.approx(average_precision_score(Y_SMALL, S_SMALL))
    assert f1_thresholds(Y_SMALL, S_SMALL) == pytest.approx([0.35])


def test_macro_metrics_equal_sklearn_macro() -> None:
    y, s = _random_cell(np.random.default_rng(0), 120, 5)
    assert macro_auroc(y, s) == pytest.approx(roc_auc_score(y, s, average="macro"), abs=1e-12)
    assert macro_auprc(y, s) == pytest.approx(average_precision_score(y, s), abs=1e-12)
    assert per_class_auroc(y, s) == pytest.approx(roc_auc_score(y, s, average=None), abs=1e-12)


def test_classes_without_both_labels_are_excluded_and_reported() -> None:
    y, s = _random_cell(np.random.default_rng(1), 80, 4)
    y[:, 1] = 0  # no positives
    y[:, 3] = 1  # no negatives
    assert valid_classes(y).tolist() == [True, False, True, False]
    expected = roc_auc_score(y[:, [0, 2]], s[:, [0, 2]], average="macro")
    assert macro_auroc(y, s) == pytest.approx(expected, abs=1e-12)
    per_class = per_class_auroc(y, s)
    assert np.isnan(per_class[[1, 3]]).all() and np.isfinite(per_class[[0, 2]]).all()

    cell = evaluate_cell(y, s, y, s, ["a", "b", "c", "d"], n_boot=50)
    assert cell.metrics["excluded_classes"] == ["b", "d"]
    assert cell.metrics["n_classes_evaluated"] == 2
    assert cell.metrics["per_class_auroc"]["b"] is None
    assert cell.metrics["macro_auroc"] == pytest.approx(expected, abs=1e-12)


def test_no_evaluable_class_is_an_error() -> None:
    with pytest.raises(MetricError, match="no class has both"):
        macro_auroc(np.zeros((5, 2)), np.zeros((5, 2)))


def test_f1_thresholds_come_from_validation_only() -> None:
    rng = np.random.default_rng(2)
    val_y, val_s = _random_cell(rng, 150, 3)
    test_y, test_s = _random_cell(rng, 150, 3)
    names = ["x", "y", "z"]
    first = evaluate_cell(val_y, val_s, test_y, test_s, names, n_boot=20)
    relabelled = evaluate_cell(val_y, val_s, 1 - test_y, test_s, names, n_boot=20)
    assert first.metrics["f1_thresholds"] == relabelled.metrics["f1_thresholds"]
    assert first.metrics["macro_f1"] != relabelled.metrics["macro_f1"]
    shifted = evaluate_cell(val_y, val_s + 0.5, test_y, test_s, names, n_boot=20)
    assert shifted.metrics["f1_thresholds"] != first.metrics["f1_thresholds"]


def test_thresholds_maximise_validation_f1_and_apply_to_test() -> None:
    rng = np.random.default_rng(3)
    val_y, val_s = _random_cell(rng, 200, 3)
    test_y, test_s = _random_cell(rng, 200, 3)
    thresholds = f1_thresholds(val_y, val_s)
    for c in range(3):
        # F1 at every candidate threshold at once: rows = candidates, columns = records.
        predicted = val_s[:, c][None, :] >= val_s[:, c][:, None]
        true_pos = (predicted & (val_y[:, c] == 1)).sum(axis=1)
        all_f1 = 2 * true_pos / (predicted.sum(axis=1) + val_y[:, c].sum())
        best = f1_score(val_y[:, c], val_s[:, c] >= thresholds[c])
        assert best == pytest.approx(all_f1.max(), abs=1e-12)
    expected = f1_score(test_y, test_s >= thresholds, average=None)
    assert per_class_f1(test_y, test_s, thresholds) == pytest.approx(expected)
    cell = evaluate_cell(val_y, val_s, test_y, test_s, ["a", "b", "c"], n_boot=20)
    assert cell.metrics["macro_f1"] == pytest.approx(expected.mean())


def test_class_without_validation_positives_predicts_nothing() -> None:
    val_y = np.array([[0, 1], [0, 0], [0, 1]])
    val_s = np.array([[0.2, 0.9], [0.7, 0.1], [0.5, 0.8]])
    thresholds = f1_thresholds(val_y, val_s)
    assert thresholds[0] > 0.7 and (val_s[:, 0] < thresholds[0]).all()


def test_evaluate_cell_reports_metrics_and_cis() -> None:
    rng = np.random.default_rng(4)
    val_y, val_s = _random_cell(rng, 150, 4)
    test_y, test_s = _random_cell(rng, 300, 4)
    cell = evaluate_cell(
        val_y, val_s, test_y, test_s, list("abcd"), test_record_ids=np.arange(300), n_boot=200
    )
    assert cell.metrics["macro_auroc"] == pytest.approx(roc_auc_score(test_y, test_s))
    assert set(cell.metrics["per_class_auroc"]) == set("abcd")
    assert cell.ci["level"] == 0.9 and cell.ci["n_boot"] == 200
    for name in ("macro_auroc", "macro_auprc", "macro_f1"):
        low, high = cell.ci[name]
        assert low <= cell.metrics[name] <= high
        assert high - low < 0.2


def test_ci_does_not_depend_on_row_order_when_ids_are_given() -> None:
    rng = np.random.default_rng(5)
    val_y, val_s = _random_cell(rng, 100, 3)
    test_y, test_s = _random_cell(rng, 120, 3)
    ids = rng.permutation(1000)[:120]
    shuffle = rng.permutation(120)
    first = evaluate_cell(val_y, val_s, test_y, test_s, "abc", test_record_ids=ids, n_boot=50)
    second = evaluate_cell(
        val_y, val_s, test_y[shuffle], test_s[shuffle], "abc", test_record_ids=ids[shuffle],
        n_boot=50,
    )  # fmt: skip
    assert first.ci == second.ci


@pytest.mark.parametrize(
    ("y", "s", "message"),
    [
        (np.zeros((4, 2)), np.zeros((4, 3)), "must both be"),
        (np.full((4, 2), 2), np.zeros((4, 2)), "must be 0 or 1"),
        (np.eye(4)[:, :2], np.full((4, 2), np.nan), "NaN"),
    ],
)
def test_bad_predictions_give_clear_errors(y: np.ndarray, s: np.ndarray, message: str) -> None:
    with pytest.raises(MetricError, match=message):
        macro_auroc(y, s)


def test_label_names_must_match_classes() -> None:
    y, s = _random_cell(np.random.default_rng(6), 40, 3)
    with pytest.raises(MetricError, match="label names"):
        evaluate_cell(y, s, y, s, ["only", "two"])
