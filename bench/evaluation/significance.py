"""Hierarchical bootstrap over seeds and test records, paired tests, false-discovery control.

A leaderboard entry is a crossed grid of runs: P pretraining seeds (for a baseline without
pretraining: initialisation seeds) x S fraction seeds, each run scored on the B fixed test-record
resamples of ``bench.evaluation.bootstrap``: an array ``scores`` [P, S, B] with NaN where a run
is missing. Replicate b of the hierarchical bootstrap draws P pretraining seeds and S fraction
seeds with replacement (independently: every fraction seed ran on every pretraining seed) and
averages the drawn runs' scores on test resample b, so its spread holds the variance of
pretraining, of the labelled subset and of the test records. With one seed of each it is the
plain test-record bootstrap.

The paired test compares a method with a baseline on the runs both have, with the same seed
draws and test resamples on both sides; its p-value is one-sided (H1: the method is better):
``(1 + #{replicates with difference <= 0}) / (1 + B)``. ``adjust_p_values`` controls the false
discovery rate over a family of such tests (Benjamini-Hochberg) or the family-wise error (Holm).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.stats import false_discovery_control

from bench.evaluation.bootstrap import DEFAULT_LEVEL, percentile_ci

Correction = Literal["bh", "holm"]
TEST_NAME = "hierarchical bootstrap (pretraining seeds, fraction seeds, test records)"


@dataclass(frozen=True)
class PairedTest:
    """Paired hierarchical bootstrap comparison of a method with a baseline."""

    difference: float  # observed: mean over the shared runs of method - baseline
    low: float
    high: float
    level: float
    p_value: float  # one-sided, H1: method > baseline
    n_boot: int


def seed_draws(
    n_pretrain: int, n_seeds: int, n_boot: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """How often each pretraining seed [B, P] and fraction seed [B, S] is drawn per replicate.

    Fixed for fixed arguments, so every entry of a shape gets the same draws (paired tests
    reuse them for both sides).
    """
    if min(n_pretrain, n_seeds, n_boot) < 1:
        raise ValueError(f"need at least one of each, got P={n_pretrain}, S={n_seeds}, B={n_boot}")
    rng = np.random.default_rng([seed, n_pretrain, n_seeds])
    pretrain = rng.integers(0, n_pretrain, size=(n_boot, n_pretrain))
    fraction = rng.integers(0, n_seeds, size=(n_boot, n_seeds))
    return _counts(pretrain, n_pretrain), _counts(fraction, n_seeds)


def hierarchical_means(scores: np.ndarray, seed: int = 0) -> np.ndarray:
    """Replicate means [B] of run scores [P, S, B] (NaN = missing run, left out of the mean)."""
    scores = _checked(scores)
    n_pretrain, n_seeds, n_boot = scores.shape
    weights_p, weights_s = seed_draws(n_pretrain, n_seeds, n_boot, seed)
    present = np.isfinite(scores)
    total = np.einsum("bp,bs,psb->b", weights_p, weights_s, np.where(present, scores, 0.0))
    count = np.einsum("bp,bs,psb->b", weights_p, weights_s, present.astype(np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


def hierarchical_ci(
    scores: np.ndarray, level: float = DEFAULT_LEVEL, seed: int = 0
) -> tuple[float, float]:
    """Percentile CI of the mean run score under the hierarchical bootstrap."""
    return percentile_ci(hierarchical_means(scores, seed), level)


def paired_hierarchical_test(
    observed: float,
    method: np.ndarray,
    baseline: np.ndarray,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
) -> PairedTest:
    """One-sided paired test of method > baseline from run scores [P, S, B] of both sides.

    Both arrays index the same (pretraining seed, fraction seed) runs and test resamples; a run
    missing (NaN) on either side is left out of both. ``observed`` is the difference of the
    full-test-set scores over the shared runs.
    """
    method, baseline = _checked(method), _checked(baseline)
    if method.shape != baseline.shape:
        raise ValueError(f"paired runs must match: {method.shape} vs {baseline.shape}")
    differences = hierarchical_means(method - baseline, seed)
    finite = differences[np.isfinite(differences)]
    n_boot = method.shape[2]
    if finite.size == 0:
        return PairedTest(float(observed), np.nan, np.nan, level, np.nan, n_boot)
    p_value = (1 + np.count_nonzero(finite <= 0)) / (1 + finite.size)
    low, high = percentile_ci(finite, level)
    return PairedTest(float(observed), low, high, level, float(p_value), n_boot)


def adjust_p_values(p_values: np.ndarray, method: Correction = "bh") -> np.ndarray:
    """Multiplicity-adjusted p-values of one family (NaN entries stay NaN, not counted).

    ``bh``: Benjamini-Hochberg (false discovery rate, scipy's ``false_discovery_control``);
    ``holm``: Holm's step-down (family-wise error rate).
    """
    p_values = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full_like(p_values, np.nan)
    tested = np.isfinite(p_values)
    if not tested.any():
        return adjusted
    values = p_values[tested]
    if method == "bh":
        adjusted[tested] = false_discovery_control(values, method="bh")
    elif method == "holm":
        order = np.argsort(values, kind="stable")
        steps = values[order] * (len(values) - np.arange(len(values)))
        holm = np.empty_like(values)
        holm[order] = np.minimum(np.maximum.accumulate(steps), 1.0)
        adjusted[tested] = holm
    else:
        raise ValueError(f"unknown correction {method!r}; use 'bh' or 'holm'")
    return adjusted


def _counts(draws: np.ndarray, n: int) -> np.ndarray:
    rows = np.repeat(np.arange(len(draws)), draws.shape[1])
    counts = np.zeros((len(draws), n), dtype=np.float64)
    np.add.at(counts, (rows, draws.ravel()), 1.0)
    return counts


def _checked(scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 3 or 0 in scores.shape:
        raise ValueError(
            f"run scores must be [pretrain seeds, fraction seeds, resamples], got {scores.shape}"
        )
    return scores
