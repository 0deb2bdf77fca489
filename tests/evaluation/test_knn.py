"""k-NN protocol against a brute-force reference written from its definition (DINO's vote)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.evaluation.knn import KnnConfig, knn_protocol, neighbours, pair_name, vote
from bench.evaluation.objectives import Objective


def reference_scores(
    train_x: np.ndarray, train_y: np.ndarray, query_x: np.ndarray, k: int, temperature: float
) -> np.ndarray:
    """Loop by loop: cosine similarity to every training record, the k most similar (ties:
    lower training row first), weights exp(s / T), the weighted mean of their labels."""
    scores = []
    for query in query_x:
        sims = []
        for row, candidate in enumerate(train_x):
            cosine = float(query @ candidate) / (np.linalg.norm(query) * np.linalg.norm(candidate))
            sims.append((-cosine, row))
        nearest = sorted(sims)[: min(k, len(train_x))]
        weights = [math.exp(-negative / temperature) for negative, _ in nearest]
        total = sum(weights)
        scores.append(
            sum(w * train_y[row] for w, (_, row) in zip(weights, nearest, strict=True)) / total
        )
    return np.asarray(scores)


def data(seed: int, kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    train_x, query_x = rng.normal(size=(40, 6)), rng.normal(size=(15, 6))
    if kind == "multilabel":
        train_y = (rng.random((40, 3)) < 0.4).astype(np.float32)
    elif kind == "multiclass":
        train_y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 40)]
    else:
        train_y = rng.normal(50.0, 10.0, size=(40, 2)).astype(np.float32)
    return train_x * rng.uniform(0.1, 5.0, size=(40, 1)), train_y, query_x  # norms vary


@pytest.mark.parametrize("kind", ["multilabel", "multiclass", "regression"])
@pytest.mark.parametrize(("k", "temperature"), [(1, 0.07), (5, 0.07), (12, 0.5), (100, 0.03)])
def test_votes_equal_the_brute_force_reference(kind: str, k: int, temperature: float) -> None:
    train_x, train_y, query_x = data(0, kind)
    sims, rows = neighbours(train_x, query_x, k)
    scores = vote(sims, rows, train_y.astype(np.float64), min(k, len(train_x)), temperature)
    expected = reference_scores(train_x, train_y, query_x, k, temperature)
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-5)


def test_ties_are_taken_in_training_row_order() -> None:
    train_x = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0]])  # rows 0 and 1: the same direction
    sims, rows = neighbours(train_x, np.array([[1.0, 0.0]]), 1)
    assert rows.tolist() == [[0]] and sims[0, 0] == pytest.approx(1.0)


def test_k_and_temperature_are_chosen_on_validation() -> None:
    train_x, train_y, val_x = data(1, "multilabel")
    val_y = (np.random.default_rng(2).random((15, 3)) < 0.4).astype(np.float32)
    test_x = data(3, "multilabel")[2]
    config = KnnConfig(ks=(1, 5, 20), temperatures=(0.03, 0.5))
    objective = Objective()
    found = knn_protocol((train_x, train_y), (val_x, val_y), test_x, config, objective)
    by_pair = {
        pair_name(k, t): objective.score(val_y, reference_scores(train_x, train_y, val_x, k, t))
        for k in config.ks
        for t in config.temperatures
    }
    assert found.val_score_by_pair == pytest.approx(by_pair)
    best = max(by_pair.values())
    first_best = next(pair for pair, score in by_pair.items() if score == best)
    assert pair_name(found.best_k, found.best_temperature) == first_best
    expected = reference_scores(train_x, train_y, test_x, found.best_k, found.best_temperature)
    np.testing.assert_allclose(found.test_scores, expected, rtol=1e-5, atol=1e-5)
