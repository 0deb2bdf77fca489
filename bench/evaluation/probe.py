"""Linear probe on frozen embeddings: L2 logistic regression, strength chosen on validation."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import StandardScaler

from bench.config import check_range
from bench.errors import ConfigError
from bench.evaluation.kind_probes import kind_probe
from bench.evaluation.metrics import macro_auroc
from bench.task import TaskKind


@dataclass(frozen=True)
class LinearProbeConfig:
    """One-vs-rest L2 logistic regression on standardised embeddings.

    ``c_grid``: inverse regularisation strengths; each is fitted on the training fraction and
    the one with the best validation (fold 9) macro AUROC is kept. Fold 10 is never looked at.
    """

    c_grid: tuple[float, ...] = (0.001, 0.01, 0.1, 1.0, 10.0)
    max_iter: int = 1000

    def __post_init__(self) -> None:
        if not self.c_grid:
            raise ConfigError("evaluation.linear.c_grid must list at least one value")
        for value in self.c_grid:
            check_range("evaluation.linear.c_grid", value, 1e-12)
        check_range("evaluation.linear.max_iter", self.max_iter, 1)


@dataclass(frozen=True)
class ProbeResult:
    """Validation and test scores of the selected probe, and how it was selected."""

    val_scores: np.ndarray
    test_scores: np.ndarray
    best_c: float
    val_auroc_by_c: dict[float, float] = field(default_factory=dict)  # of selection_metric
    selection_metric: str = "macro_auroc"
    extra_scores: tuple[np.ndarray, ...] = ()  # of ``extra_features``, by the selected probe


def linear_probe(
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    test_features: np.ndarray,
    config: LinearProbeConfig,
    kind: TaskKind = "multilabel",
    main_metric: str = "macro_auroc",
    extra_features: Sequence[np.ndarray] = (),
) -> ProbeResult:
    """Fit one probe per C on ``train`` (features, labels), keep the best on ``val``.

    ``extra_features`` (e.g. the noisy test folds' embeddings) are scored by the selected probe
    as ``test_features`` is, each on its own.

    multilabel: one-vs-rest logistic, selected on validation macro AUROC; multiclass and
    regression: ``bench.evaluation.kind_probes`` (selected on the task's main metric).
    """
    scaler = StandardScaler().fit(train[0])
    train_x, val_x, test_x = (scaler.transform(x) for x in (train[0], val[0], test_features))
    extra_x = tuple(scaler.transform(x) for x in extra_features)
    if kind != "multilabel":
        *fitted, extra = kind_probe(
            kind, main_metric, (train_x, train[1]), (val_x, val[1]), test_x, config.c_grid,
            config.max_iter, extra_x,
        )  # fmt: skip
        return ProbeResult(*fitted, selection_metric=main_metric, extra_scores=extra)
    models = {c: _fit(train_x, train[1], c, config.max_iter) for c in config.c_grid}
    by_c = {c: macro_auroc(val[1], _scores(model, val_x)) for c, model in models.items()}
    best_c = max(by_c, key=lambda c: (by_c[c], -c))
    best, main = models[best_c], "macro_auroc"
    extra = tuple(_scores(best, x) for x in extra_x)
    return ProbeResult(_scores(best, val_x), _scores(best, test_x), best_c, by_c, main, extra)


def _fit(x: np.ndarray, y: np.ndarray, c: float, max_iter: int) -> OneVsRestClassifier:
    model = OneVsRestClassifier(LogisticRegression(C=c, max_iter=max_iter))  # lbfgs: no RNG
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        warnings.filterwarnings("ignore", message="Label .* is present in all training examples")
        warnings.filterwarnings("ignore", message="Label not .* present in all training examples")
        return model.fit(x, y)


def _scores(model: OneVsRestClassifier, x: np.ndarray) -> np.ndarray:
    return model.predict_proba(x).astype(np.float32)
