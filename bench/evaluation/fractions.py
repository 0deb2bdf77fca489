"""Label fractions: nested, stratified, patient-grouped subsets of a task's training rows.

For one (labels, patient ids, seed) the patients are put in a single order; the subset for a
fraction f is the shortest prefix of that order holding at least ceil(f * records) records, so
smaller fractions always lie inside larger ones. The order is:

1. a *coverage* set: for each class present in the training rows (rarest first) one random
   positive patient, unless an earlier pick already covers it, so every prefix has a positive
   of every class;
2. the other patients, split by iterative stratification (Sechidis et al., ECML PKDD 2011) on
   patient-level positive counts weighted by records into ``chunks`` parts of equal size; the
   coverage set is pre-assigned to the first part so the first part stays balanced too. Parts
   follow in a seeded order, patients inside a part in a seeded order.

A prefix of k parts is then a stratified sample of about k / ``chunks`` of the records.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bench.errors import ConfigError, DataError

if TYPE_CHECKING:
    import pandas as pd

    from bench.task import TaskData

DEFAULT_FRACTIONS: tuple[float, ...] = (0.01, 0.05, 0.1, 0.5, 1.0)
DEFAULT_CHUNKS = 100
_CACHE_SIZE = 32


@dataclass(frozen=True)
class PatientOrdering:
    """One seeded order of the patients of a set of training rows.

    ``patient_of_row`` maps each row to its position in ``patients`` (sorted unique ids);
    ``order`` lists patient positions, coverage patients first; ``cumulative_records[i]`` is the
    number of records of ``order[: i + 1]``.
    """

    patients: np.ndarray
    patient_of_row: np.ndarray
    order: np.ndarray
    cumulative_records: np.ndarray
    n_coverage: int

    @property
    def n_records(self) -> int:
        """Number of training rows ordered."""
        return len(self.patient_of_row)


_ORDERINGS: OrderedDict[tuple, PatientOrdering] = OrderedDict()


def check_fraction(value: object, option: str = "fraction") -> float:
    """``value`` as a float in (0, 1]; anything else (NaN included) raises ConfigError."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"{option} = {value!r} must be a number in (0, 1]")
    if not 0.0 < float(value) <= 1.0:
        raise ConfigError(f"{option} = {value!r} is outside (0, 1]")
    return float(value)


def fraction_subset(
    labels: np.ndarray,
    patient_ids: np.ndarray,
    fraction: float,
    seed: int,
    chunks: int = DEFAULT_CHUNKS,
) -> np.ndarray:
    """Sorted row indices of the ``fraction`` subset of these training rows for ``seed``.

    Nested in ``fraction`` for a fixed seed, stratified over the classes of ``labels`` [N, C],
    never splitting a patient, and holding a positive of every class that has one.
    """
    fraction = check_fraction(fraction)
    ordering = patient_ordering(labels, patient_ids, seed, chunks)
    return _prefix_rows(ordering, fraction)


def task_fraction_rows(data: TaskData, fraction: float, seed: int) -> np.ndarray:
    """Row indices into ``data`` of the ``fraction`` subset of its training folds."""
    train = data.split_indices("train")
    return train[fraction_subset(data.strata[train], data.patient_ids[train], fraction, seed)]


def task_validation_rows(
    data: TaskData, fraction: float, seed: int, val_fraction: str
) -> np.ndarray:
    """Row indices into ``data`` of the validation records that select a cell's model.

    ``full``: the whole validation fold; ``same``: its ``fraction`` subset drawn by the rule of
    the labelled training subset (nested, stratified, patient-grouped, every class covered)
    with the cell's seed.
    """
    val = data.split_indices("val")
    if val_fraction == "full":
        return val
    if val_fraction != "same":
        raise ConfigError(f"evaluation.val_fraction = {val_fraction!r}; use 'same' or 'full'")
    return val[fraction_subset(data.strata[val], data.patient_ids[val], fraction, seed)]


def fraction_report(
    labels: np.ndarray,
    patient_ids: np.ndarray,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
    label_names: Sequence[str] | None = None,
    chunks: int = DEFAULT_CHUNKS,
) -> pd.DataFrame:
    """Per fraction: target and realised fraction, records, patients and positives per class.

    pandas is imported here, for this table only, so that ``bench --help`` (which shows
    ``DEFAULT_FRACTIONS``) does not load it.
    """
    import pandas as pd

    checked = [check_fraction(f, "fractions") for f in fractions]
    names = (
        list(label_names) if label_names is not None else [str(i) for i in range(labels.shape[1])]
    )
    if len(names) != labels.shape[1]:
        raise ConfigError(f"{len(names)} label names for {labels.shape[1]} label columns")
    ordering = patient_ordering(labels, patient_ids, seed, chunks)
    positive = np.asarray(labels) > 0.5
    rows = []
    for fraction in checked:
        subset = _prefix_rows(ordering, fraction)
        counts = positive[subset].sum(axis=0)
        rows.append(
            {
                "fraction": fraction,
                "realised": len(subset) / ordering.n_records,
                "records": len(subset),
                "patients": len(np.unique(ordering.patient_of_row[subset])),
                **{name: int(count) for name, count in zip(names, counts, strict=True)},
            }
        )
    return pd.DataFrame(rows)


def patient_ordering(
    labels: np.ndarray, patient_ids: np.ndarray, seed: int, chunks: int = DEFAULT_CHUNKS
) -> PatientOrdering:
    """The seeded patient order behind every fraction (cached per content, seed and chunks)."""
    labels, patient_ids = _validated(labels, patient_ids)
    if chunks < 1:
        raise ConfigError(f"chunks = {chunks!r} must be at least 1")
    if seed < 0:
        raise ConfigError(f"seed = {seed!r} must be at least 0")
    digest = hashlib.sha256(labels.tobytes() + patient_ids.tobytes()).hexdigest()
    key = (digest, labels.shape, int(seed), int(chunks))
    if key in _ORDERINGS:
        _ORDERINGS.move_to_end(key)
        return _ORDERINGS[key]
    ordering = _build_ordering(labels, patient_ids, np.random.default_rng(int(seed)), chunks)
    _ORDERINGS[key] = ordering
    if len(_ORDERINGS) > _CACHE_SIZE:
        _ORDERINGS.popitem(last=False)
    return ordering


def _validated(labels: np.ndarray, patient_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = np.ascontiguousarray(np.asarray(labels) > 0.5)
    patient_ids = np.ascontiguousarray(np.asarray(patient_ids, dtype=np.int64))
    if labels.ndim != 2:
        raise DataError(f"labels must be [N, C], got shape {labels.shape}")
    if patient_ids.shape != (len(labels),):
        raise DataError(f"{len(patient_ids)} patient ids for {len(labels)} label rows")
    if len(labels) == 0:
        raise DataError("no training rows to draw a label fraction from")
    return labels, patient_ids


def _build_ordering(
    labels: np.ndarray, patient_ids: np.ndarray, rng: np.random.Generator, chunks: int
) -> PatientOrdering:
    patients, patient_of_row = np.unique(patient_ids, return_inverse=True)
    records = np.bincount(patient_of_row, minlength=len(patients)).astype(np.float64)
    positives = np.zeros((len(patients), labels.shape[1]))
    np.add.at(positives, patient_of_row, labels)
    coverage = _coverage_patients(positives, rng)
    chunk_of = iterative_stratification(positives, records, chunks, rng, preassigned=coverage)
    rest = np.setdiff1d(np.arange(len(patients)), coverage)
    rest = rest[rng.permutation(len(rest))]
    chunk_rank = np.empty(chunks, dtype=np.int64)
    chunk_rank[0] = 0
    chunk_rank[1:] = 1 + rng.permutation(chunks - 1)
    rest = rest[np.argsort(chunk_rank[chunk_of[rest]], kind="stable")]
    order = np.concatenate([coverage, rest])
    return PatientOrdering(
        patients=patients,
        patient_of_row=patient_of_row,
        order=order,
        cumulative_records=np.cumsum(records[order]).astype(np.int64),
        n_coverage=len(coverage),
    )


def _coverage_patients(positives: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Patients giving every present class a positive: rarest class first, a random positive."""
    has = positives > 0
    counts = has.sum(axis=0)
    chosen: list[int] = []
    covered = np.zeros(positives.shape[1], dtype=bool)
    for label in np.lexsort((rng.random(len(counts)), counts)):
        if counts[label] == 0 or covered[label]:
            continue
        patient = int(rng.choice(np.flatnonzero(has[:, label])))
        chosen.append(patient)
        covered |= has[patient]
    return np.asarray(chosen, dtype=np.int64)


def iterative_stratification(
    positives: np.ndarray,
    weights: np.ndarray,
    n_parts: int,
    rng: np.random.Generator,
    preassigned: np.ndarray | None = None,
) -> np.ndarray:
    """Part (0..n_parts-1) of each example by iterative stratification (Sechidis et al. 2011).

    ``positives`` [P, C] are per-example positive counts, ``weights`` [P] the example sizes;
    parts aim at equal total weight and equal positives per class. ``preassigned`` examples
    are put in part 0 first. Ties are broken by ``rng``.
    """
    n_examples = len(positives)
    has = positives > 0
    wanted_size = np.full(n_parts, weights.sum() / n_parts)
    wanted_positives = np.tile(positives.sum(axis=0) / n_parts, (n_parts, 1))
    part = np.full(n_examples, -1, dtype=np.int64)
    remaining = np.ones(n_examples, dtype=bool)
    for example in preassigned if preassigned is not None else ():
        part[example] = 0
        wanted_size[0] -= weights[example]
        wanted_positives[0] -= positives[example]
        remaining[example] = False
    while remaining.any():
        left = (has & remaining[:, None]).sum(axis=0)
        active = np.flatnonzero(left > 0)
        if len(active):
            rarest = active[left[active] == left[active].min()]
            label = int(rng.choice(rarest))
            members = np.flatnonzero(remaining & has[:, label])
        else:
            label, members = -1, np.flatnonzero(remaining)
        for example in members[rng.permutation(len(members))]:
            chosen = _best_part(
                wanted_positives[:, label] if label >= 0 else None, wanted_size, rng
            )
            part[example] = chosen
            wanted_size[chosen] -= weights[example]
            wanted_positives[chosen] -= positives[example]
        remaining[members] = False
    return part


def _best_part(
    wanted_label: np.ndarray | None, wanted_size: np.ndarray, rng: np.random.Generator
) -> int:
    """The part that most wants this label, then the most room; remaining ties at random."""
    candidates = np.arange(len(wanted_size))
    if wanted_label is not None:
        candidates = np.flatnonzero(wanted_label == wanted_label.max())
    sizes = wanted_size[candidates]
    candidates = candidates[sizes == sizes.max()]
    return (
        int(candidates[rng.integers(len(candidates))])
        if len(candidates) > 1
        else int(candidates[0])
    )


def _prefix_rows(ordering: PatientOrdering, fraction: float) -> np.ndarray:
    """Rows of the shortest prefix of the order (coverage included) with ceil(f * N) records."""
    target = math.ceil(round(fraction * ordering.n_records, 9))
    n_patients = int(np.searchsorted(ordering.cumulative_records, target)) + 1
    n_patients = min(max(n_patients, ordering.n_coverage), len(ordering.order))
    chosen = np.zeros(len(ordering.patients), dtype=bool)
    chosen[ordering.order[:n_patients]] = True
    return np.flatnonzero(chosen[ordering.patient_of_row])
