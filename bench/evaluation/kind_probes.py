"""Linear probes of the multiclass and regression task kinds (features already standardised).

- multiclass: multinomial L2 logistic regression (lbfgs) on the arg-max class, inverse
  strength C from the grid; probabilities of classes absent from training are 0.
- regression: ridge regression on targets standardised with the training mean and SD, strength
  ``alpha = 1 / C`` for each C of the same grid; predictions are returned in the targets' units.
The C with the best validation main metric (in its direction; ties: the smaller C) is kept.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge

from bench.errors import ConfigError
from bench.evaluation.kind_metrics import evaluate_multiclass, evaluate_regression
from bench.task import METRIC_DIRECTIONS, TaskKind

Split = tuple[np.ndarray, np.ndarray]
Fitted = tuple[np.ndarray, np.ndarray, float, dict[float, float], tuple[np.ndarray, ...]]


def kind_probe(
    kind: TaskKind,
    main_metric: str,
    train: Split,
    val: Split,
    test_x: np.ndarray,
    c_grid: tuple[float, ...],
    max_iter: int,
    extra_x: tuple[np.ndarray, ...] = (),
) -> Fitted:
    """(val scores, test scores, best C, validation main metric by C, scores of each of
    ``extra_x``) of the selected probe."""
    if kind == "multiclass":
        fit, score = _multiclass, evaluate_multiclass
    elif kind == "regression":
        fit, score = _ridge, evaluate_regression
    else:
        raise ConfigError(f"no linear probe for task kind {kind!r}")
    names = [str(i) for i in range(train[1].shape[1])]
    predictions = {c: fit(train, (val[0], test_x, *extra_x), c, max_iter) for c in c_grid}
    by_c = {
        c: float(score(val[1], p[0], names, n_boot=0).metrics[main_metric])
        for c, p in predictions.items()
    }
    sign = 1.0 if METRIC_DIRECTIONS[main_metric] else -1.0
    best = max(by_c, key=lambda c: (sign * by_c[c], -c))
    chosen = predictions[best]
    return chosen[0], chosen[1], best, by_c, tuple(chosen[2:])


def _multiclass(
    train: Split, inputs: tuple[np.ndarray, ...], c: float, max_iter: int
) -> list[np.ndarray]:
    y = np.asarray(train[1]).argmax(axis=1)
    model = LogisticRegression(C=c, max_iter=max_iter)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        model.fit(train[0], y)
    out = []
    for x in inputs:
        probabilities = np.zeros((len(x), train[1].shape[1]), dtype=np.float32)
        probabilities[:, model.classes_] = model.predict_proba(x)
        out.append(probabilities)
    return out


def _ridge(
    train: Split, inputs: tuple[np.ndarray, ...], c: float, max_iter: int
) -> list[np.ndarray]:
    y = np.asarray(train[1], dtype=np.float64)
    mean, sd = y.mean(axis=0), y.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    model = Ridge(alpha=1.0 / c).fit(train[0], (y - mean) / sd)
    return [(model.predict(x).reshape(len(x), -1) * sd + mean).astype(np.float32) for x in inputs]
