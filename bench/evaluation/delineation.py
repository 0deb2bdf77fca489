"""Wave delineation metrics: per-sample masks -> wave segments -> matched onset / offset boundaries.

Masks are int arrays [T], one per (record, lead): 0 background, 1 P, 2 QRS, 3 T; the TRUE mask
holds -1 where the lead is not scored (outside its first..last annotation). A wave segment is a
run of one class; its onset is the run's first sample, its offset the run's last sample (the same
rule for true and predicted masks). True segments are the runs of the true mask (-1 ends a run);
predicted segments are the runs of the full-length predicted mask.

Matching, per (record, lead), wave and boundary kind, at each tolerance (as in the delineation
literature, e.g. Martinez et al. 2004; Moskalenko et al. 2020, ±150 ms on LUDB): a predicted
boundary matches a true one when ``|pred - true| <= tol``; matching is one-to-one and nearest
first (all candidate pairs by increasing distance, ties to the earlier true boundary, then to the
earlier prediction; a pair is accepted when neither side is matched yet). Matched predictions are
true positives; unmatched true boundaries are misses; an unmatched prediction is a false
positive only where the true mask is scored: a boundary predicted in the unscored region is
ignored (it may still match a true boundary at the scored region's edge within tolerance, so a
prediction a few samples early on the lead's first annotated wave is not a miss).

Counts are pooled over every (record, lead) pair before the ratios: sensitivity TP / true,
PPV TP / predicted, F1 2 TP / (true + predicted), each 0 where its denominator is 0 (sklearn's
zero_division=0). The signed error (pred - true, ms) is pooled over all matches: its mean, and
its SD with ddof 1; both are NaN where fewer than 1 (mean) or 2 (SD) boundaries matched (JSON
writers must map them to null). Keys (``wave`` p, qrs, t; ``side`` onset, offset; ``tol`` in
ms): ``sens_{wave}_{side}@{tol}``, ``ppv_...``, ``f1_...``, ``error_mean_ms_...``,
``error_sd_ms_...`` and ``mean_boundary_f1@{tol}`` (the mean of the six F1s; the main metric is
``mean_boundary_f1@150``). The bootstrap resamples records (all leads of a record together),
from per-record counts computed once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bench.evaluation.bootstrap import bootstrap_indices, percentile_ci, resample_counts
from bench.evaluation.metrics import MetricError
from bench.task import UNSCORED

WAVES: tuple[str, ...] = ("p", "qrs", "t")  # mask classes 1, 2, 3
SIDES: tuple[str, ...] = ("onset", "offset")
# per (tolerance, wave, side): true boundaries, predictions counted, matches, error sum, error²
_N_TRUE, _N_PRED, _TP, _ERR, _ERR2 = range(5)


def wave_boundaries(mask: np.ndarray, label: int) -> tuple[np.ndarray, np.ndarray]:
    """Onsets and offsets (first / last sample) of every run of ``label`` in ``mask``."""
    inside = np.concatenate(([False], np.asarray(mask) == label, [False]))
    change = np.flatnonzero(inside[1:] != inside[:-1])
    return change[0::2], change[1::2] - 1


def match_boundaries(
    true_at: np.ndarray, pred_at: np.ndarray, tolerance: float
) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one nearest-first matching of sorted boundary positions within ``tolerance``.

    Returns (which predictions matched, bool [len(pred_at)]; signed errors pred - true of the
    matches, in samples). Each true boundary needs at most ``len(true_at)`` nearest predictions
    on either side as candidates (the others can take no more), which bounds the work even for
    very fragmented predictions.
    """
    matched = np.zeros(len(pred_at), dtype=bool)
    if not len(true_at) or not len(pred_at):
        return matched, np.zeros(0, dtype=np.int64)
    reach = len(true_at)
    window = np.searchsorted(pred_at, true_at)[:, None] + np.arange(-reach, reach)
    true_index = np.broadcast_to(np.arange(reach)[:, None], window.shape)
    inside = (window >= 0) & (window < len(pred_at))
    true_index, pred_index = true_index[inside], window[inside]
    error = pred_at[pred_index] - true_at[true_index]
    close = np.abs(error) <= tolerance
    true_index, pred_index, error = true_index[close], pred_index[close], error[close]
    order = np.lexsort((pred_index, true_index, np.abs(error)))
    true_used = np.zeros(len(true_at), dtype=bool)
    errors: list[int] = []
    for k in order:
        i, j = true_index[k], pred_index[k]
        if not true_used[i] and not matched[j]:
            true_used[i] = matched[j] = True
            errors.append(int(error[k]))
            if len(errors) == reach:
                break
    return matched, np.asarray(errors, dtype=np.int64)


def pair_counts(true: np.ndarray, pred: np.ndarray, tolerances: Sequence[float]) -> np.ndarray:
    """Counts of one (record, lead) pair: float64 [tolerances, waves, sides, 5]; tolerances in
    samples."""
    counts = np.zeros((len(tolerances), len(WAVES), len(SIDES), 5))
    scored = true != UNSCORED
    for w, label in enumerate(range(1, len(WAVES) + 1)):
        truth, guess = wave_boundaries(true, label), wave_boundaries(pred, label)
        for s in range(len(SIDES)):
            inside = scored[guess[s]]
            for t, tolerance in enumerate(tolerances):
                matched, error = match_boundaries(truth[s], guess[s], tolerance)
                counts[t, w, s] = (
                    len(truth[s]),
                    len(error) + np.count_nonzero(inside & ~matched),
                    len(error),
                    error.sum(),
                    np.square(error).sum(),
                )
    return counts


def delineation_metrics(
    true: Sequence[np.ndarray],
    pred: Sequence[np.ndarray],
    sampling_rate: int,
    tolerances_ms: Sequence[int] = (150, 40),
) -> dict[str, float]:
    """Sensitivity, PPV, F1 and signed error of every wave boundary, pooled over all pairs."""
    counts = _all_counts(true, pred, sampling_rate, tolerances_ms).sum(axis=0)
    return {k: float(v) for k, v in _scores(counts, sampling_rate, tolerances_ms).items()}


def delineation_bootstrap(
    true: Sequence[np.ndarray],
    pred: Sequence[np.ndarray],
    record_index: np.ndarray,
    sampling_rate: int,
    n_resamples: int,
    seed: int,
    level: float,
    tolerances_ms: Sequence[int] = (150, 40),
) -> dict[str, list[float]]:
    """Percentile CI [low, high] of every key of ``delineation_metrics`` over resamples of the
    records (``record_index[i]`` is the record of pair i; records sorted by that value, so the
    same test records get the same resamples for every method). ``n_resamples`` 0: no CI, {}."""
    counts = _all_counts(true, pred, sampling_rate, tolerances_ms)
    if n_resamples == 0:
        return {}
    records = np.asarray(record_index)
    if records.shape != (len(counts),):
        raise MetricError(f"record_index has shape {records.shape}; expected ({len(counts)},)")
    _, inverse = np.unique(records, return_inverse=True)
    per_record = np.zeros((int(inverse.max()) + 1, *counts.shape[1:]))
    np.add.at(per_record, inverse, counts)
    draws = resample_counts(bootstrap_indices(len(per_record), n_resamples, seed), len(per_record))
    sums = np.tensordot(draws.astype(np.float64), per_record, axes=1)
    samples = _scores(sums, sampling_rate, tolerances_ms)
    return {key: list(percentile_ci(values, level)) for key, values in samples.items()}


def _all_counts(
    true: Sequence[np.ndarray],
    pred: Sequence[np.ndarray],
    sampling_rate: int,
    tolerances_ms: Sequence[int],
) -> np.ndarray:
    """Checked inputs -> counts of every pair [pairs, tolerances, waves, sides, 5]."""
    if len(true) != len(pred) or not len(true):
        raise MetricError(f"{len(true)} true masks for {len(pred)} predicted; need >= 1 of each")
    if sampling_rate <= 0:
        raise MetricError(f"sampling_rate must be positive, got {sampling_rate}")
    if not len(tolerances_ms) or any(int(t) != t or t <= 0 for t in tolerances_ms):
        raise MetricError(f"tolerances_ms must be positive whole ms, got {list(tolerances_ms)}")
    tolerances = [t * sampling_rate / 1000 for t in tolerances_ms]
    counts = []
    for i, (mask, guess) in enumerate(zip(true, pred, strict=True)):
        mask, guess = np.asarray(mask), np.asarray(guess)
        if mask.ndim != 1 or mask.shape != guess.shape:
            raise MetricError(f"pair {i}: true {mask.shape} and pred {guess.shape} masks differ")
        if (
            not np.isin(mask, (UNSCORED, 0, 1, 2, 3)).all()
            or not np.isin(guess, (0, 1, 2, 3)).all()
        ):
            raise MetricError(f"pair {i}: true classes must be -1..3 and predicted 0..3")
        counts.append(pair_counts(mask.astype(np.int64), guess.astype(np.int64), tolerances))
    return np.stack(counts)


def _scores(
    counts: np.ndarray, sampling_rate: int, tolerances_ms: Sequence[int]
) -> dict[str, np.ndarray]:
    """Every metric from pooled counts [..., tolerances, waves, sides, 5] (leading dims kept)."""
    n_true, n_pred, tp = counts[..., _N_TRUE], counts[..., _N_PRED], counts[..., _TP]
    ms = 1000.0 / sampling_rate
    with np.errstate(invalid="ignore", divide="ignore"):
        sens = np.where(n_true > 0, tp / n_true, 0.0)
        ppv = np.where(n_pred > 0, tp / n_pred, 0.0)
        f1 = np.where(n_true + n_pred > 0, 2 * tp / (n_true + n_pred), 0.0)
        mean = np.where(tp > 0, counts[..., _ERR] / tp, np.nan)
        variance = (counts[..., _ERR2] - tp * mean**2) / (tp - 1)
        sd = np.where(tp > 1, np.sqrt(np.clip(variance, 0.0, None)), np.nan)
    scores: dict[str, np.ndarray] = {}
    for t, tolerance in enumerate(tolerances_ms):
        tol = int(tolerance)
        for w, wave in enumerate(WAVES):
            for s, side in enumerate(SIDES):
                name = f"{wave}_{side}@{tol}"
                scores[f"sens_{name}"] = sens[..., t, w, s]
                scores[f"ppv_{name}"] = ppv[..., t, w, s]
                scores[f"f1_{name}"] = f1[..., t, w, s]
                scores[f"error_mean_ms_{name}"] = mean[..., t, w, s] * ms
                scores[f"error_sd_ms_{name}"] = sd[..., t, w, s] * ms
        scores[f"mean_boundary_f1@{tol}"] = f1[..., t, :, :].mean(axis=(-2, -1))
    return scores
