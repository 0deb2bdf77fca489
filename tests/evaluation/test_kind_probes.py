"""Linear probes of the multiclass (multinomial logistic) and regression (ridge) kinds."""

from __future__ import annotations

import numpy as np
import pytest

from bench.evaluation.kind_metrics import evaluate_regression
from bench.evaluation.probe import LinearProbeConfig, linear_probe

pytestmark = pytest.mark.numeric


def features(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8)) * [5, 1, 1, 1, 1, 1, 1, 1]
    classes = np.digitize(x[:, 0], [-2.0, 2.0])
    age = 50 + 3 * x[:, 0] - 4 * x[:, 1] + rng.normal(0, 1, n)
    return x, np.eye(3)[classes].astype(np.float32), age[:, None].astype(np.float32)


def test_multiclass_probe_is_multinomial_and_selects_on_the_main_metric() -> None:
    (x, y, _), (vx, vy, _), (tx, ty, _) = features(300, 0), features(100, 1), features(100, 2)
    probe = linear_probe((x, y), (vx, vy), tx, LinearProbeConfig(), "multiclass", "accuracy")
    assert probe.test_scores.shape == (100, 3)
    np.testing.assert_allclose(probe.test_scores.sum(1), 1.0, rtol=1e-5)
    assert np.mean(probe.test_scores.argmax(1) == ty.argmax(1)) > 0.9
    assert probe.selection_metric == "accuracy"
    assert probe.val_auroc_by_c[probe.best_c] == max(probe.val_auroc_by_c.values())


def test_ridge_probe_predicts_in_target_units_and_minimises_mae() -> None:
    (x, _, a), (vx, _, va), (tx, _, ta) = features(300, 0), features(100, 1), features(100, 2)
    config = LinearProbeConfig(c_grid=(1e-4, 0.01, 1.0))
    probe = linear_probe((x, a), (vx, va), tx, config, "regression", "mae")
    assert probe.val_auroc_by_c[probe.best_c] == min(probe.val_auroc_by_c.values())
    assert probe.best_c == 1.0  # alpha 1e4 shrinks the standardised fit towards the mean
    metrics = evaluate_regression(ta, probe.test_scores, ["age"], n_boot=0).metrics
    assert metrics["mae"] < 1.2 and metrics["r2"] > 0.95
    assert probe.test_scores.mean() == pytest.approx(ta.mean(), abs=1.5)
