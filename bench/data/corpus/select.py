"""Which records of a corpus a pretraining may use: source filters, leakage exclusion,
duplicates, caps and nested subsets.

A record is excluded when it is the same ECG as a record in the validation or test folds of a
dataset the run evaluates on (``protected``): first by id (its global id or an alias, e.g.
CinC's HR00017 = ``ptbxl:17``), then by signal fingerprint (``bench.data.identity``). A record
that is the same ECG (id or fingerprint) as one already kept in the corpus is a duplicate. The
order is: sources -> id -> fingerprint -> duplicate -> the dataset's cap (a seeded random subset
of what is left) -> the run's subset size (the first n of one seeded permutation of the whole
kept corpus, so a smaller subset is always inside a larger one). Protected datasets are matched
on every record of their val/test folds, labelled or not (a superset of any task's records).

Fingerprints come from the caches (raw signals at the cache rate) where they were stored, else
from the signals loaded at the corpus rate alone (``identity_preprocessing``: no band-pass,
normalisation or lead choice), so a copy is found whatever a method's preprocessing does;
``bench.data.identity`` says why datasets are compared at one rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from bench.data.corpus.spec import CorpusPart, CorpusSpec
from bench.data.identity import FINGERPRINT_VERSION
from bench.data.prepared import identities
from bench.data.preprocess import Preprocessing
from bench.data.signals import SignalSet, Split
from bench.errors import ConfigError, DataError
from bench.hashing import stable_hash

REASONS: tuple[str, ...] = ("id", "fingerprint", "duplicate")
PROTECTED_SPLITS: tuple[Split, ...] = ("val", "test")
SHOWN_EXAMPLES = 5

Size = int | Literal["all"]


def identity_preprocessing(preprocessing: Preprocessing) -> Preprocessing:
    """The preprocessing whose signals fingerprints are computed on: the rate alone."""
    return Preprocessing(rate=preprocessing.rate, resample=preprocessing.resample)


def stores_fingerprints(data: SignalSet) -> bool:
    """Whether the cache of ``data`` stored its records' fingerprints (of the raw signals)."""
    return "signal_fingerprint" in data.meta.columns


@dataclass(frozen=True)
class Protected:
    """The ids and fingerprints of the records no pretraining may see (owner per entry)."""

    ids: dict[str, str]
    prints: dict[str, str]
    sources: tuple[dict[str, Any], ...]


def protected_records(
    datasets: Sequence[SignalSet], splits: Sequence[Split] = PROTECTED_SPLITS
) -> Protected:
    """Ids and fingerprints of every record in ``splits`` of ``datasets`` (each once)."""
    ids: dict[str, str] = {}
    prints: dict[str, str] = {}
    sources = []
    for data in {d.name: d for d in datasets}.values():
        rows = np.concatenate([data.split_indices(split) for split in splits])
        all_ids, all_prints = identities(data)
        for row in rows:
            owner = min(all_ids[row])
            for ident in all_ids[row]:
                ids.setdefault(ident, owner)
            prints.setdefault(all_prints[row], owner)
        sources.append(
            {
                "dataset": data.name,
                "fingerprint": data.fingerprint,
                "splits": list(splits),
                "records": len(rows),
            }
        )
    return Protected(ids, prints, tuple(sorted(sources, key=lambda s: s["dataset"])))


@dataclass
class PartReport:
    """What happened to one dataset's records."""

    dataset: str
    records: int  # in the cache
    filtered: int = 0  # dropped by the source filter
    excluded: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REASONS, 0))
    capped: int = 0  # dropped by max_records
    kept: int = 0
    examples: list[str] = field(default_factory=list)  # "corpus id = protected id (reason)"


@dataclass(frozen=True)
class Selection:
    """The kept rows of every part (increasing), the index of the subset and the report."""

    rows: tuple[np.ndarray, ...]
    index: np.ndarray  # int64 [N, 2]: (part, row) of every record of the subset, in order
    parts: tuple[PartReport, ...]
    size: Size
    document: dict[str, Any]  # what the pretraining key hashes

    def report(self) -> dict[str, Any]:
        """Counts per dataset and reason, plain data for manifests and MLflow."""
        excluded = {reason: sum(p.excluded[reason] for p in self.parts) for reason in REASONS}
        return {
            "corpus": self.document["name"],
            "size": self.size,
            "records": len(self.index),
            "kept_before_subset": int(sum(p.kept for p in self.parts)),
            "excluded": excluded,
            "datasets": [vars(p) | {"excluded": dict(p.excluded)} for p in self.parts],
            "protected": self.document["exclude"]["against"],
        }


def select_corpus(
    spec: CorpusSpec,
    datasets: Sequence[SignalSet],
    protected: Protected,
    size: Size = "all",
    identity_sets: Sequence[SignalSet] | None = None,
) -> Selection:
    """The records of ``spec`` (its parts loaded as ``datasets``, in order) a pretraining uses;
    ids and fingerprints are read from ``identity_sets`` (the same records, row for row, e.g.
    at ``identity_preprocessing``) when given."""
    if len(datasets) != len(spec.parts):
        raise ValueError(f"corpus {spec.name}: {len(spec.parts)} parts, {len(datasets)} datasets")
    sources = datasets if identity_sets is None else identity_sets
    if len(sources) != len(datasets) or any(
        len(a.meta) != len(b.meta) for a, b in zip(sources, datasets, strict=True)
    ):
        raise ValueError(f"corpus {spec.name}: identity sets do not match the datasets")
    seen_ids: dict[str, str] = {}  # id / fingerprint of a kept record -> its global id
    seen_prints: dict[str, str] = {}
    kept_rows, reports = [], []
    known = [identities(data) for data in sources]
    for part, data, (ids, prints) in zip(spec.parts, datasets, known, strict=True):
        rows, report = _select_part(part, data, (ids, prints), protected, seen_ids, seen_prints)
        rows = _cap(rows, part.max_records, spec.seed, report)
        for row in rows:
            owner = min(ids[row])
            seen_ids.update(dict.fromkeys(ids[row], owner))
            seen_prints[prints[row]] = owner
        report.kept = len(rows)
        kept_rows.append(rows)
        reports.append(report)
    index = np.concatenate(
        [np.stack([np.full(len(r), i), r], axis=1) for i, r in enumerate(kept_rows)]
    ).astype(np.int64)
    index = index[nested_subset(len(index), size, spec.seed, spec.name)]
    names = [ids for ids, _ in known]
    selected = [min(names[int(part)][int(row)]) for part, row in index]
    document = _document(spec, datasets, protected, size, selected)
    return Selection(tuple(kept_rows), index, tuple(reports), size, document)


def nested_subset(total: int, size: Size, seed: int, name: str = "corpus") -> np.ndarray:
    """Positions (increasing) of the first ``size`` records of a seeded permutation of
    ``total``: the same seed gives nested subsets for growing sizes."""
    if size == "all":
        return np.arange(total)
    if size > total:
        raise ConfigError(
            f"--pretrain-records {size} exceeds the {total} records of corpus {name} left "
            "after exclusion"
        )
    order = np.random.default_rng(seed).permutation(total)
    return np.sort(order[:size])


def _select_part(
    part: CorpusPart,
    data: SignalSet,
    known: tuple[list[set[str]], list[str]],
    protected: Protected,
    seen_ids: dict[str, str],
    seen_prints: dict[str, str],
) -> tuple[np.ndarray, PartReport]:
    """Rows of ``data`` (whose ids and fingerprints are ``known``) passing the source filter
    and the exclusions, with the counts."""
    report = PartReport(part.dataset, len(data.meta))
    rows = _source_rows(part, data)
    report.filtered = len(data.meta) - len(rows)
    ids, prints = known
    here_ids: dict[str, str] = {}
    here_prints: dict[str, str] = {}
    kept = []
    for row in rows:
        record_ids, value = ids[row], prints[row]
        hit = next((i for i in sorted(record_ids) if i in protected.ids), None)
        earlier = next((i for i in sorted(record_ids) if i in seen_ids or i in here_ids), None)
        if hit is not None:
            reason, other = "id", protected.ids[hit]
        elif value in protected.prints:
            reason, other = "fingerprint", protected.prints[value]
        elif earlier is not None:
            reason, other = "duplicate", seen_ids.get(earlier) or here_ids[earlier]
        elif value in seen_prints or value in here_prints:
            reason, other = "duplicate", seen_prints.get(value) or here_prints[value]
        else:
            owner = min(record_ids)
            here_ids.update(dict.fromkeys(record_ids, owner))
            here_prints[value] = owner
            kept.append(row)
            continue
        report.excluded[reason] += 1
        if len(report.examples) < SHOWN_EXAMPLES:
            report.examples.append(f"{min(record_ids)} = {other} ({reason})")
    return np.asarray(kept, dtype=np.int64), report


def _source_rows(part: CorpusPart, data: SignalSet) -> np.ndarray:
    """Every row, or those whose ``source`` is one of ``part.sources``."""
    if not part.sources:
        return np.arange(len(data.meta))
    if "source" not in data.meta.columns:
        raise DataError(f"corpus entry {part.dataset}: the dataset has no sources to filter by")
    sources = data.meta["source"].astype(str)
    present = set(sources)
    # CinC records whose JS folder was not recognised belong to Chapman or Ningbo
    shared = {"chapman", "ningbo"} & set(part.sources) and "chapman-ningbo" in present
    wanted = set(part.sources) | ({"chapman-ningbo"} if shared else set())
    missing = sorted(set(part.sources) - present - ({"chapman", "ningbo"} if shared else set()))
    if missing:
        raise DataError(
            f"corpus entry {part.dataset}: no records of source(s) {missing}; the prepared "
            f"cache holds {sorted(present)}"
        )
    return np.flatnonzero(sources.isin(wanted).to_numpy())


def _cap(rows: np.ndarray, cap: int | None, seed: int, report: PartReport) -> np.ndarray:
    """A seeded random ``cap`` of ``rows`` (in row order), the rest counted as capped."""
    if cap is None or len(rows) <= cap:
        return rows
    report.capped = len(rows) - cap
    return np.sort(np.random.default_rng(seed).permutation(rows)[:cap])


def _document(
    spec: CorpusSpec,
    datasets: Sequence[SignalSet],
    protected: Protected,
    size: Size,
    ids: list[str],
) -> dict[str, Any]:
    """The corpus as keyed: parts and their data fingerprints, seed, the exclusion sources,
    the subset size and a digest of the global ids it selects."""
    return {
        "name": spec.name,
        "datasets": [
            {**part.document(), "fingerprint": data.fingerprint}
            for part, data in zip(spec.parts, datasets, strict=True)
        ],
        "seed": spec.seed,
        "exclude": {
            "splits": list(PROTECTED_SPLITS),
            "reasons": list(REASONS),
            "identity_version": FINGERPRINT_VERSION,
            "against": [
                {"dataset": s["dataset"], "fingerprint": s["fingerprint"]}
                for s in protected.sources
            ],
        },
        "records": size,
        "selection": stable_hash(ids),
    }
