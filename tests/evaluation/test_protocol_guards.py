"""Guards of the selection protocol: what is reported comes from the state chosen on validation.

Each test fails under one small bug that would change published numbers while leaving the
reported validation numbers as they were: fine-tuning scoring its last state instead of the
best validation state, and the probe's C chosen on the test fold.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import StandardScaler

from bench.evaluation.config import EvaluationConfig, FinetuneConfig
from bench.evaluation.finetune import WindowedEval, finetune
from bench.evaluation.probe import LinearProbeConfig
from bench.grid.cells import CellRows, fit_protocol
from tests.doubles.toys import TOY_SPEC, ToyConfig, ToyEncoder, toy_signals

pytestmark = pytest.mark.numeric

CPU = torch.device("cpu")


def _rhythm_labels(signals: np.ndarray) -> np.ndarray:
    """Two learnable classes: a record's dominant frequency above / below the median, and
    its first lead's mean above zero."""
    spectrum = np.abs(np.fft.rfft(signals[:, 0], axis=-1))[:, 1:]
    peak = spectrum.argmax(axis=1)
    fast = peak > np.median(peak)
    return np.stack([fast, signals[:, 0].mean(-1) > 0], axis=1).astype(np.float32)


def test_finetune_scores_the_best_validation_state_not_the_last() -> None:
    """The validation signals are scored again as the test set: the reported test scores must
    equal the selected state's validation scores. Validation labels are the inverse of the
    rule the model learns, so validation AUROC falls while it trains: the best state is early
    and far from the last."""
    signals = toy_signals(n_records=64, length=64, seed=3)
    labels = _rhythm_labels(signals)
    train, val = slice(0, 40), slice(40, 64)
    torch.manual_seed(0)
    encoder = ToyEncoder(ToyConfig(hidden=16, dropout=0.0), TOY_SPEC)
    config = FinetuneConfig(
        epochs=1, min_steps=30, batch_size=16, lr=3e-2, encoder_lr_scale=1.0,
        warmup_fraction=0.0, evaluations=6, patience=100,
    )  # fmt: skip
    result = finetune(
        encoder, (signals[train], labels[train]), (signals[val], 1.0 - labels[val]),
        signals[val], config, WindowedEval(32, 16, "mean", 64), CPU, seed=0, progress=False,
    )  # fmt: skip
    scores = [score for _, score in result.val_curve]
    assert result.best_step < result.steps  # precondition: the last state is not the best
    assert max(scores) - scores[-1] > 0.05  # ... and clearly worse on validation
    np.testing.assert_allclose(result.test_scores, result.val_scores, rtol=1e-5, atol=1e-6)
    best = roc_auc_score(1.0 - labels[val], result.test_scores, average="macro")
    assert best == max(scores)


def _probe_case(seed: int = 0) -> tuple[np.ndarray, np.ndarray, CellRows]:
    """Features where the probe's strength matters: a weak signal in 40 noisy dimensions."""
    rng = np.random.default_rng(seed)
    n = 360
    labels = (rng.random((n, 3)) < 0.35).astype(np.float32)
    features = 0.6 * labels @ rng.standard_normal((3, 40)) + rng.standard_normal((n, 40))
    rows = CellRows(np.arange(0, 60), np.arange(60, 210), np.arange(210, 360))
    return features.astype(np.float32), labels, rows


def _fit_linear(features: np.ndarray, labels: np.ndarray, rows: CellRows) -> Any:
    evaluation = EvaluationConfig(linear=LinearProbeConfig(c_grid=(1e-3, 1e-2, 1.0, 100.0)))
    workspace = SimpleNamespace(profile=SimpleNamespace(evaluation=evaluation))
    cell = SimpleNamespace(protocol="linear", unit=SimpleNamespace(evaluation=evaluation))
    data = SimpleNamespace(labels=labels)
    return fit_protocol(cell, workspace, data, rows, features)  # type: ignore[arg-type]


def _validation_choice(features: np.ndarray, labels: np.ndarray, rows: CellRows) -> float:
    """The C with the best validation macro AUROC, computed here independently."""
    scaler = StandardScaler().fit(features[rows.train])
    train_x, val_x = scaler.transform(features[rows.train]), scaler.transform(features[rows.val])
    by_c = {}
    for c in (1e-3, 1e-2, 1.0, 100.0):
        model = OneVsRestClassifier(LogisticRegression(C=c, max_iter=1000))
        model.fit(train_x, labels[rows.train])
        by_c[c] = roc_auc_score(labels[rows.val], model.predict_proba(val_x), average="macro")
    return max(by_c, key=lambda c: (by_c[c], -c))


def test_probe_strength_ignores_the_test_labels() -> None:
    """Replacing or inverting the test labels changes neither the chosen C nor the scores
    reported for the test records; the chosen C is the validation fold's own best."""
    features, labels, rows = _probe_case()
    fit = _fit_linear(features, labels, rows)
    assert fit.details["best_c"] == _validation_choice(features, labels, rows)
    inverted = labels.copy()
    inverted[rows.report] = 1.0 - inverted[rows.report]
    shuffled = labels.copy()
    shuffled[rows.report] = np.random.default_rng(1).permutation(labels[rows.report])
    for changed in (inverted, shuffled):
        again = _fit_linear(features, changed, rows)
        assert again.details["best_c"] == fit.details["best_c"]
        np.testing.assert_array_equal(again.report_scores, fit.report_scores)
        np.testing.assert_array_equal(again.val_scores, fit.val_scores)
    # the test fold alone would choose differently: the guard above is not vacuous
    test_as_val = CellRows(rows.train, rows.report, rows.report)
    on_inverted_test = _fit_linear(features, inverted, test_as_val).details["best_c"]
    assert on_inverted_test != fit.details["best_c"]
