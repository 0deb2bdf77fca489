"""Bootstrap over test records: fixed resample indices, vectorised AUROC/AUPRC/F1.

Every method evaluated on the same test set (records in the same order, e.g. sorted by record
id, with the same labels) gets the same resample indices from ``valid_resamples(y_true, n_boot,
seed)``, so confidence intervals are comparable and differences between methods are paired.

A resample is represented by its counts (how often each record was drawn), and every metric is
computed as a count-weighted statistic, which equals the metric on the resampled arrays: AUROC is
the Mann-Whitney statistic with tied scores counted half (sklearn's ``roc_auc_score``), AUPRC is
sklearn's step-wise ``average_precision_score``. Scores are sorted once per class, so 1,000
resamples cost a handful of array passes instead of 1,000 sklearn calls per class.

Resamples in which a class evaluable on the whole test set has no positive (or no negative) are
rejected and redrawn, as the PTB-XL benchmark's ``get_appropriate_bootstrap_samples`` does
(``valid_resamples``; the number redrawn is reported, and where nearly every resample misses a
class it falls back to plain resamples, see there). Scoring plain ``bootstrap_indices`` leaves
such a class out of that resample's macro average instead; a resample with no valid class at all
yields NaN and is ignored by the percentile CI. Paired tests and the seed level of the
bootstrap live in ``bench.evaluation.significance``.

The resamples of a test set are drawn once per process (``valid_resamples`` is memoised by the
labels' content, ``n_boot`` and the seed, its indices read-only): every cell of a task shares
them, and on the large label sets the redraws cost a few tenths of a second each time.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

DEFAULT_N_BOOT = 1000
DEFAULT_LEVEL = 0.9  # the PTB-XL benchmark's 5 % / 95 % quantiles


def bootstrap_indices(n: int, n_boot: int = DEFAULT_N_BOOT, seed: int = 0) -> np.ndarray:
    """Resample indices [n_boot, n] drawn with replacement; identical for identical arguments."""
    if n < 1 or n_boot < 1:
        raise ValueError(f"bootstrap needs n >= 1 and n_boot >= 1, got n={n}, n_boot={n_boot}")
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


MAX_DRAWS_PER_RESAMPLE = 20  # redraw budget: draws per kept resample, on average
RESAMPLES_MEMO_SIZE = 16  # test sets whose resamples are kept per process


@dataclass(frozen=True)
class Resamples:
    """Bootstrap resample indices [n_boot, n]: how many draws were rejected and redrawn, and
    how many kept resamples still miss a class (non-zero only after the fallback)."""

    indices: np.ndarray
    n_redrawn: int
    n_partial: int = 0


def valid_resamples(y_true: np.ndarray, n_boot: int = DEFAULT_N_BOOT, seed: int = 0) -> Resamples:
    """``n_boot`` resamples of the records of ``y_true`` [N, C] keeping every evaluable class.

    A class is evaluable when the whole set has a positive and a negative; a resample leaving
    such a class without positives or without negatives is rejected and a new one drawn from
    the same generator (the reference redraws on missing positives; missing negatives make
    AUROC just as undefined). The first draws are those of ``bootstrap_indices(n, n_boot,
    seed)``, so a set that needs no redraw keeps exactly those resamples.

    Fallback: where fewer than one draw in ``MAX_DRAWS_PER_RESAMPLE`` keeps every class (many
    classes with one or two test positives, e.g. the 71-class label set on a small test fold),
    redrawing would condition the bootstrap on a rare event (the reference would loop for
    long); then the plain ``bootstrap_indices`` are returned, a resample's missing classes are
    left out of its macro average, and ``n_partial`` counts such resamples.
    """
    positives = np.asarray(y_true) > 0.5
    if positives.ndim != 2:
        raise ValueError(f"y_true must be [N, C], got shape {positives.shape}")
    digest = hashlib.sha256(f"{positives.shape}|{n_boot}|{seed}".encode())
    digest.update(np.packbits(positives).tobytes())
    key = digest.hexdigest()
    if key not in _RESAMPLES:
        resamples = _draw_valid(positives, n_boot, seed)
        resamples.indices.setflags(write=False)
        _RESAMPLES[key] = resamples
        while len(_RESAMPLES) > RESAMPLES_MEMO_SIZE:
            _RESAMPLES.popitem(last=False)
    _RESAMPLES.move_to_end(key)
    return _RESAMPLES[key]


_RESAMPLES: OrderedDict[str, Resamples] = OrderedDict()


def _draw_valid(positives: np.ndarray, n_boot: int, seed: int) -> Resamples:
    """``valid_resamples`` of the boolean labels ``positives`` [N, C], drawn."""
    n = len(positives)
    evaluable = positives[:, positives.any(axis=0) & ~positives.all(axis=0)]
    rng = np.random.default_rng(seed)
    kept: list[np.ndarray] = []
    n_kept = drawn = 0
    while n_kept < n_boot:
        if drawn >= MAX_DRAWS_PER_RESAMPLE * n_boot:
            plain = bootstrap_indices(n, n_boot, seed)
            return Resamples(plain, 0, int((~_keeps_every_class(plain, evaluable)).sum()))
        batch = rng.integers(0, n, size=(n_boot - n_kept, n))
        drawn += len(batch)
        ok = _keeps_every_class(batch, evaluable)
        kept.append(batch[ok])
        n_kept += int(ok.sum())
    return Resamples(np.concatenate(kept), drawn - n_boot)


def _keeps_every_class(indices: np.ndarray, positives: np.ndarray) -> np.ndarray:
    """Whether each resample holds a positive and a negative of every column of ``positives``."""
    n_pos = resample_counts(indices, len(positives)) @ positives
    return ((n_pos > 0) & (n_pos < len(positives))).all(axis=1)


def resample_counts(indices: np.ndarray, n: int) -> np.ndarray:
    """How often each of ``n`` records appears in each resample: int64 [n_boot, n]."""
    n_boot = indices.shape[0]
    if indices.size and (indices.min() < 0 or indices.max() >= n):
        raise ValueError(f"resample indices must lie in [0, {n}); the test set has {n} records")
    flat = (indices + (np.arange(n_boot) * n)[:, None]).ravel()
    return np.bincount(flat, minlength=n_boot * n).reshape(n_boot, n)


def class_auroc_auprc(
    y_true: np.ndarray, y_score: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-class AUROC and AUPRC under integer record weights ``counts`` [B, N]: two [B, C].

    Entries are NaN where a class has no positive or no negative weight in that resample.
    """
    positives, y_score = _check_inputs(y_true, y_score, counts)
    n_boot = counts.shape[0]
    weights = np.ascontiguousarray(counts.T, dtype=np.int32)  # records x resamples
    total = counts.sum(axis=1, dtype=np.float64)
    auroc = np.full((n_boot, positives.shape[1]), np.nan)
    auprc = np.full_like(auroc, np.nan)
    for c in range(positives.shape[1]):
        if positives[:, c].any():
            auroc[:, c], auprc[:, c] = _class_scores(weights, total, y_score[:, c], positives[:, c])
    return auroc, auprc


def class_f1(
    y_true: np.ndarray, y_score: np.ndarray, thresholds: np.ndarray, counts: np.ndarray
) -> np.ndarray:
    """Per-class F1 of ``y_score >= thresholds`` under record weights ``counts``: [B, C].

    NaN where a class has no positive or no negative weight in that resample.
    """
    positives, y_score = _check_inputs(y_true, y_score, counts)
    predicted = y_score >= np.asarray(thresholds)[None, :]
    weights = counts.astype(np.float64)
    true_pos = weights @ (positives & predicted)
    false_pos = weights @ (~positives & predicted)
    false_neg = weights @ (positives & ~predicted)
    n_pos, n_neg = weights @ positives, weights @ ~positives
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = 2 * true_pos / (2 * true_pos + false_pos + false_neg)
    return np.where((n_pos > 0) & (n_neg > 0), f1, np.nan)


def resampled_macro_scores(
    y_true: np.ndarray,
    y_score: np.ndarray,
    indices: np.ndarray,
    thresholds: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Macro AUROC, AUPRC (and F1 when ``thresholds`` is given) on every resample: [B] each."""
    counts = resample_counts(indices, len(y_true))
    auroc, auprc = class_auroc_auprc(y_true, y_score, counts)
    samples = {"macro_auroc": nan_row_mean(auroc), "macro_auprc": nan_row_mean(auprc)}
    if thresholds is not None:
        samples["macro_f1"] = nan_row_mean(class_f1(y_true, y_score, thresholds, counts))
    return samples


def macro_auroc_samples(y_true: np.ndarray, y_score: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Macro AUROC over the classes valid in each resample: [B] (NaN where none is valid)."""
    counts = resample_counts(indices, len(y_true))
    return nan_row_mean(class_auroc_auprc(y_true, y_score, counts)[0])


def percentile_ci(samples: np.ndarray, level: float = DEFAULT_LEVEL) -> tuple[float, float]:
    """Two-sided percentile interval of the finite ``samples`` (level 0.9 -> 5 % and 95 %)."""
    if not 0 < level < 1:
        raise ValueError(f"confidence level must lie in (0, 1), got {level}")
    finite = np.asarray(samples, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return float("nan"), float("nan")
    tail = (1 - level) / 2
    low, high = np.quantile(finite, [tail, 1 - tail])
    return float(low), float(high)


def nan_row_mean(values: np.ndarray) -> np.ndarray:
    """Mean of each row over its finite entries; NaN for rows without any."""
    finite = np.isfinite(values)
    count = finite.sum(axis=1)
    total = np.where(finite, values, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


def _class_scores(
    weights: np.ndarray, total: np.ndarray, scores: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """AUROC and AP of one class on every resample; ``weights`` is [N, B].

    Records are sorted once by decreasing score and grouped by tied score. Only the tie groups
    holding a positive record matter: for each, the weight scored at least as high
    (``through``) and, with ties, strictly higher (``ahead``) come from prefix sums.
    """
    order = np.argsort(-scores, kind="stable")
    sorted_scores = scores[order]
    opens = np.r_[True, sorted_scores[1:] != sorted_scores[:-1]]
    group_start = np.flatnonzero(opens)
    group_stop = np.r_[group_start[1:], len(scores)]
    positive_at = np.flatnonzero(labels[order])
    positive_groups, first_of_group = np.unique(
        (np.cumsum(opens) - 1)[positive_at], return_index=True
    )
    start, stop = group_start[positive_groups], group_stop[positive_groups]
    pos = weights[order[positive_at]]
    ties = len(positive_groups) < len(positive_at) or np.any(stop - start > 1)
    if len(positive_groups) < len(positive_at):
        pos = np.add.reduceat(pos, first_of_group, axis=0)
    through = _prefix_sums(weights, order, stop)  # weight scored at least as high as the group
    tp = _accumulate(pos.copy())
    n_pos = tp[-1].astype(np.float64)
    n_neg = total - n_pos
    # Mann-Whitney: a positive beats the negatives scored strictly lower; ties count half.
    twice_u = 2 * n_pos * n_neg - 2 * _row_dot(pos, through - tp)
    if ties:
        ahead = _prefix_sums(weights, order, start)
        twice_u += _row_dot(pos, through - ahead - pos)
    precision = tp / np.maximum(through, 1)
    valid = (n_pos > 0) & (n_neg > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        auroc = np.where(valid, twice_u / (2 * n_pos * n_neg), np.nan)
        auprc = np.where(valid, np.einsum("gb,gb->b", pos, precision) / n_pos, np.nan)
    return auroc, auprc


def _prefix_sums(weights: np.ndarray, order: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Total weight of the records ``order[:p]`` for each increasing point p: [P, B] ints.

    Few points: sum the stretches between them; many: one running sum over all sorted rows.
    """
    if 4 * len(points) > len(order):
        ordered = np.zeros((len(order) + 1, weights.shape[1]), dtype=weights.dtype)
        ordered[1:] = weights[order]
        return _accumulate(ordered)[points]
    sums = np.empty((len(points), weights.shape[1]), dtype=np.int64)
    running = np.zeros(weights.shape[1], dtype=np.int64)
    previous = 0
    for k, point in enumerate(points):
        if point > previous:
            running += weights[order[previous:point]].sum(axis=0)
        sums[k] = running
        previous = point
    return sums


def _row_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Column-wise dot products of two [G, B] integer arrays, exact in int64."""
    return np.einsum("gb,gb->b", a, b, dtype=np.int64).astype(np.float64)


def _accumulate(rows: np.ndarray) -> np.ndarray:
    """Cumulative sum over axis 0, in place, row by row; returns ``rows``.

    numpy's cumsum does not vectorise along the scan; adding whole rows does, which makes
    this several times faster for the wide [rows, resamples] arrays used here.
    """
    for k in range(1, len(rows)):
        rows[k] += rows[k - 1]
    return rows


def _check_inputs(
    y_true: np.ndarray, y_score: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(positives as bool [N, C], scores as float64 [N, C]) after shape and value checks."""
    y_true, y_score = np.asarray(y_true), np.asarray(y_score, dtype=np.float64)
    if y_true.ndim != 2 or y_true.shape != y_score.shape:
        raise ValueError(
            f"y_true and y_score must both be [N, C]; got {y_true.shape} and {y_score.shape}"
        )
    if counts.ndim != 2 or counts.shape[1] != y_true.shape[0]:
        raise ValueError(f"counts must be [B, {y_true.shape[0]}], got {counts.shape}")
    if not np.isfinite(y_score).all():
        raise ValueError("scores contain NaN or infinite values")
    return y_true > 0.5, y_score
