"""Per-class AUROC and AUPRC, with each class's test positives, in every classification result."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from bench.evaluation.kind_metrics import evaluate_multiclass
from bench.evaluation.metrics import evaluate_cell

NAMES = ("common", "middle", "rare", "absent")


def multilabel(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = (rng.random((200, 4)) < [0.5, 0.2, 0.03, 0.0]).astype(np.float32)
    return truth, truth * 1.5 + rng.normal(size=truth.shape)


def test_multilabel_per_class_auprc_is_scikit_learns_average_precision() -> None:
    val, test = multilabel(0), multilabel(1)
    metrics = evaluate_cell(*val, *test, NAMES, n_boot=20).metrics
    truth, scores = test
    for c, name in enumerate(NAMES[:3]):
        assert metrics["per_class_auprc"][name] == average_precision_score(
            truth[:, c], scores[:, c]
        )
        assert metrics["per_class_auroc"][name] == roc_auc_score(truth[:, c], scores[:, c])
    assert metrics["per_class_auprc"]["absent"] is None  # no positives: not evaluable
    positives = {name: int(truth[:, c].sum()) for c, name in enumerate(NAMES)}
    assert metrics["test_positives"] == positives and positives["absent"] == 0


def test_multiclass_results_hold_per_class_auprc_and_its_macro() -> None:
    rng = np.random.default_rng(2)
    truth = np.eye(3, dtype=np.float32)[rng.choice(3, 150, p=[0.6, 0.3, 0.1])]
    scores = np.exp(truth * 2 + rng.normal(size=truth.shape))
    scores /= scores.sum(axis=1, keepdims=True)
    metrics = evaluate_multiclass(truth, scores, NAMES[:3], n_boot=20).metrics
    expected = [average_precision_score(truth[:, c], scores[:, c]) for c in range(3)]
    assert list(metrics["per_class_auprc"].values()) == expected
    assert metrics["macro_auprc"] == np.mean(expected)
    assert metrics["test_positives"] == {n: int(truth[:, c].sum()) for c, n in enumerate(NAMES[:3])}
