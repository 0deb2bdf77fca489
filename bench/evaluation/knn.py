"""k-NN protocol: cosine nearest neighbours of frozen embeddings, temperature-weighted votes.

As DINO evaluates (Caron et al., ICCV 2021, its ``eval_knn.py``): embeddings are L2-normalised,
a record's ``k`` nearest training records by cosine similarity ``s`` vote with weight
``exp(s / T)``. Scores per task kind, each the weighted vote divided by the total weight:

- multilabel: each class's score is the weight share of the neighbours positive for it;
- multiclass: each class's score is the weight share of the neighbours of that class (the
  arg-max is the predicted class, as DINO's vote);
- regression: the weighted mean of the neighbours' targets.

``k`` and ``T`` are chosen on validation (the task's main metric, in its direction; ties keep the
earlier pair of the grid, smaller ``k`` first); ``k`` is capped at the labelled records. Nothing
is trained, so the protocol is also the cheapest check of a representation. Neighbours with equal
similarity are taken in training-row order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.config import check_range
from bench.errors import ConfigError
from bench.evaluation.objectives import Objective

QUERY_CHUNK = 1024  # queries whose similarities are held at once
VOTE_CHUNK = 256  # queries whose neighbours' labels are held at once


@dataclass(frozen=True)
class KnnConfig:
    """The grid of neighbour counts ``ks`` and vote temperatures ``temperatures`` (DINO: k 20
    and 200, T 0.07) that validation chooses from."""

    ks: tuple[int, ...] = (10, 20, 50, 100, 200)
    temperatures: tuple[float, ...] = (0.03, 0.07, 0.2)

    def __post_init__(self) -> None:
        if not self.ks or not self.temperatures:
            raise ConfigError("evaluation.knn.ks and evaluation.knn.temperatures need a value")
        for k in self.ks:
            check_range("evaluation.knn.ks", k, 1)
        for temperature in self.temperatures:
            check_range("evaluation.knn.temperatures", temperature, 1e-4)


@dataclass(frozen=True)
class KnnResult:
    """Scores of the selected (k, T) on validation and the report rows, and the selection."""

    val_scores: np.ndarray
    test_scores: np.ndarray
    best_k: int
    best_temperature: float
    val_score_by_pair: dict[str, float] = field(default_factory=dict)  # "k=20,T=0.07" -> score
    extra_scores: tuple[np.ndarray, ...] = ()


def normalised(features: np.ndarray) -> np.ndarray:
    """Rows of ``features`` scaled to unit L2 norm (an all-zero row stays zero), float64."""
    x = np.asarray(features, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def neighbours(train_x: np.ndarray, query_x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(similarities, training rows) of the ``k`` most similar training records of each query,
    most similar first, ties in training-row order: two [Q, k] arrays."""
    train, query = normalised(train_x), normalised(query_x)
    k = min(k, len(train))
    sims, rows = [], []
    for start in range(0, len(query), QUERY_CHUNK):
        similarity = query[start : start + QUERY_CHUNK] @ train.T
        order = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
        sims.append(np.take_along_axis(similarity, order, axis=1))
        rows.append(order)
    return np.concatenate(sims), np.concatenate(rows)


def vote(
    similarity: np.ndarray, rows: np.ndarray, labels: np.ndarray, k: int, temperature: float
) -> np.ndarray:
    """Scores [Q, C] of the first ``k`` neighbours (``similarity`` and training ``rows``, [Q, >=
    k]) with training ``labels`` [N, C]: weights ``exp(s / T)``, the weighted mean label."""
    scores = np.empty((len(rows), labels.shape[1]), dtype=np.float32)
    for start in range(0, len(rows), VOTE_CHUNK):
        s = similarity[start : start + VOTE_CHUNK, :k]
        weights = np.exp((s - s[:, :1]) / temperature)  # shifted by the top one: no overflow
        weights /= weights.sum(axis=1, keepdims=True)
        neighbour_labels = labels[rows[start : start + VOTE_CHUNK, :k]]
        scores[start : start + VOTE_CHUNK] = np.einsum("qk,qkc->qc", weights, neighbour_labels)
    return scores


def knn_protocol(
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    test_features: np.ndarray,
    config: KnnConfig,
    objective: Objective,
    extra_features: Sequence[np.ndarray] = (),
) -> KnnResult:
    """Choose (k, T) on ``val`` (features, labels) with the neighbours in ``train``; score
    ``test_features`` and each of ``extra_features`` with the chosen pair."""
    train_x, train_y = train
    labels = np.asarray(train_y, dtype=np.float64)
    largest = min(max(config.ks), len(train_x))
    val_sims, val_rows = neighbours(train_x, val[0], largest)
    by_pair: dict[str, float] = {}
    best: tuple[float, int, float] | None = None
    for k in sorted(dict.fromkeys(min(k, largest) for k in config.ks)):
        for temperature in config.temperatures:
            scores = vote(val_sims, val_rows, labels, k, temperature)
            score = objective.score(val[1], scores)
            by_pair[pair_name(k, temperature)] = score
            if best is None or score > best[0]:
                best = (score, k, temperature)
    assert best is not None
    _, k, temperature = best

    def scored(features: np.ndarray) -> np.ndarray:
        sims, rows = neighbours(train_x, features, k)
        return vote(sims, rows, labels, k, temperature)

    return KnnResult(
        val_scores=vote(val_sims, val_rows, labels, k, temperature),
        test_scores=scored(test_features),
        best_k=k,
        best_temperature=temperature,
        val_score_by_pair=by_pair,
        extra_scores=tuple(scored(x) for x in extra_features),
    )


def pair_name(k: int, temperature: float) -> str:
    """'k=20,T=0.07': a (k, T) pair as the selection details name it."""
    return f"k={k},T={temperature:g}"


def knn_details(result: KnnResult, main_metric: str) -> dict[str, Any]:
    """How the protocol selected, for the cell's result (scores in the metric's direction,
    negated for a lower-is-better metric such as MAE)."""
    return {
        "best_k": result.best_k,
        "best_temperature": result.best_temperature,
        f"val_{main_metric}_by_k_temperature": result.val_score_by_pair,
    }
