"""A segmentation cell's main metric on given bootstrap resamples of its test records.

Leaderboards pair cells on the same resample indices (seed-averaged CIs, paired tests), so
they need the metric on each resample [B], not only a CI. Boundary counts come from the
matcher of ``bench.evaluation.delineation`` (``pair_counts``), summed per record over its
leads, then pooled per resample with the records' draw counts; F1 = 2 TP / (true + predicted)
per boundary, averaged over the six boundaries, exactly as ``delineation_metrics`` pools them.
"""

from __future__ import annotations

import numpy as np

from bench.evaluation.bootstrap import Resamples, bootstrap_indices, resample_counts
from bench.evaluation.delineation import pair_counts
from bench.evaluation.metrics import MetricError

# columns of pair_counts' last axis used here: true boundaries, predictions counted, matches
N_TRUE, N_PRED, TRUE_POSITIVES = 0, 1, 2


def record_resamples(y_true: np.ndarray, n_boot: int, seed: int) -> Resamples:
    """Plain bootstrap resamples of the records (rows) of ``y_true``: a dense task has no
    class that a resample could lose, so none is redrawn."""
    return Resamples(bootstrap_indices(len(y_true), n_boot, seed), 0)


def resampled_boundary_f1(
    metric: str,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    indices: np.ndarray,
    n_leads: int,
    sampling_rate: int,
) -> np.ndarray:
    """``mean_boundary_f1@<ms>`` on every resample [B] of the records of the flattened masks
    ``y_true`` / ``y_pred`` [N, n_leads * T] (resample ``indices`` [B, N])."""
    name, _, tolerance = metric.partition("@")
    if name != "mean_boundary_f1" or not tolerance.isdigit():
        raise MetricError(f"no resampled form of segmentation metric {metric!r}")
    true = np.asarray(y_true).reshape(len(y_true), n_leads, -1).astype(np.int64)
    pred = np.asarray(y_pred).reshape(len(y_pred), n_leads, -1).astype(np.int64)
    tol = [int(tolerance) * sampling_rate / 1000]
    per_record = np.stack(
        [
            sum(pair_counts(t, p, tol) for t, p in zip(tr, pr, strict=True))
            for tr, pr in zip(true, pred, strict=True)
        ]
    )[:, 0]
    sums = np.tensordot(resample_counts(indices, len(true)).astype(np.float64), per_record, 1)
    denominator = sums[..., N_TRUE] + sums[..., N_PRED]
    f1 = np.divide(
        2 * sums[..., TRUE_POSITIVES],
        denominator,
        out=np.zeros_like(denominator),
        where=denominator > 0,
    )
    return f1.mean(axis=(-2, -1))
