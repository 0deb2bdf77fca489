"""Deterministic 10 folds for datasets without official ones: stratified on the labels,
grouped by patient, seeded and versioned (folds 1-8 train, 9 validation, 10 test as PTB-XL).

Algorithm (iterative stratification of Sechidis et al. 2011, applied to patient groups):
groups are visited rarest label first (ties in a seeded random order); each goes to the fold
that still needs most of that label, then the one needing most records, then the lowest fold.
A record without labels counts as the label "(none)". Bump ``FOLDS_VERSION`` whenever the
assignment of any input changes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

N_FOLDS = 10
FOLDS_VERSION = 1
DEFAULT_SEED = 0
NO_LABEL = "(none)"


def fold_spec(seed: int) -> dict[str, object]:
    """What identifies an assignment: stored in the manifest and in result provenance."""
    return {
        "method": "stratified-grouped",
        "version": FOLDS_VERSION,
        "folds": N_FOLDS,
        "seed": seed,
    }


def assign_folds(
    labels: Sequence[Sequence[str]], groups: Sequence[str | int], seed: int = DEFAULT_SEED
) -> np.ndarray:
    """Fold 1-10 of every record (int64 [N]); records of one group share a fold."""
    group_ids, group_of = np.unique(np.asarray([str(g) for g in groups]), return_inverse=True)
    names = sorted({label for row in labels for label in row} | {NO_LABEL})
    column = {name: i for i, name in enumerate(names)}
    counts = np.zeros((len(group_ids), len(names)), dtype=np.int64)
    for row, record_labels in enumerate(labels):
        for label in set(record_labels) or {NO_LABEL}:
            counts[group_of[row], column[label]] += 1
    sizes = np.bincount(group_of, minlength=len(group_ids))
    need = np.repeat(counts.sum(0)[None, :] / N_FOLDS, N_FOLDS, axis=0)
    need_records = np.full(N_FOLDS, len(labels) / N_FOLDS)
    totals = counts.sum(0)
    present = counts > 0
    rarest = np.where(present, totals[None, :], np.iinfo(np.int64).max).min(1)
    tie = np.random.default_rng([seed, FOLDS_VERSION]).permutation(len(group_ids))
    fold_of_group = np.zeros(len(group_ids), dtype=np.int64)
    for group in np.lexsort((tie, rarest)):
        label = int(np.flatnonzero(present[group] & (totals == rarest[group]))[0])
        candidates = np.lexsort((np.arange(N_FOLDS), -need_records, -need[:, label]))
        fold = int(candidates[0])
        fold_of_group[group] = fold + 1
        need[fold] -= counts[group]
        need_records[fold] -= sizes[group]
    return fold_of_group[group_of]
