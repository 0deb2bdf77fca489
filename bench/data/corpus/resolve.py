"""A corpus resolved against loaded datasets: its records, key document and exclusion report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.data.corpus.records import SECONDS_PER_HOUR, CorpusRecords, lengths_of
from bench.data.corpus.select import Protected, Selection, Size, select_corpus
from bench.data.corpus.spec import CorpusSpec
from bench.data.signals import SignalSet
from bench.errors import ConfigError
from bench.hashing import stable_hash


@dataclass(frozen=True)
class ResolvedCorpus:
    """The records a pretraining on ``spec`` uses, and how they were chosen."""

    spec: CorpusSpec
    selection: Selection
    records: CorpusRecords
    lead_names: tuple[str, ...]

    @property
    def document(self) -> dict[str, Any]:
        """What the pretraining key hashes (``bench.data.corpus.select``)."""
        return self.selection.document

    @property
    def fingerprint(self) -> str:
        """A short hash of the document."""
        return stable_hash(self.document)

    @property
    def label(self) -> str:
        """``name`` or ``name (N records)`` for a subset, as leaderboards show it."""
        size = self.selection.size
        return self.spec.name if size == "all" else f"{self.spec.name} ({size} records)"

    def report(self) -> dict[str, Any]:
        """The selection's counts plus records and hours per dataset in the pretraining."""
        report = self.selection.report()
        rate = self.records.sampling_rate
        for i, part in enumerate(report["datasets"]):
            rows = self.records.index[self.records.index[:, 0] == i, 1]
            samples = lengths_of(self.records.parts[i])[rows]
            part["used"] = len(rows)
            part["hours"] = round(float(samples.sum()) / rate / SECONDS_PER_HOUR, 3)
        report["hours"] = round(sum(p["hours"] for p in report["datasets"]), 3)
        report["sampling_rate"] = rate
        report["leads"] = list(self.lead_names)
        return report


def resolve_corpus(
    spec: CorpusSpec,
    datasets: Sequence[SignalSet],
    protected: Protected,
    size: Size = "all",
    identity_sets: Sequence[SignalSet] | None = None,
) -> ResolvedCorpus:
    """Select the records of ``spec`` from its ``datasets`` (loaded at one preprocessing;
    ids and fingerprints from ``identity_sets`` when given, see ``select_corpus``)."""
    first = datasets[0]
    for data in datasets[1:]:
        if data.sampling_rate != first.sampling_rate or data.lead_names != first.lead_names:
            raise ConfigError(
                f"corpus {spec.name}: {data.name} is at {data.sampling_rate} Hz with "
                f"{len(data.lead_names)} leads, {first.name} at {first.sampling_rate} Hz with "
                f"{len(first.lead_names)}; load every dataset with one preprocessing"
            )
    selection = select_corpus(spec, datasets, protected, size, identity_sets)
    if len(selection.index) == 0:
        raise ConfigError(f"corpus {spec.name} has no records left after exclusion")
    records = CorpusRecords(
        tuple(data.signals for data in datasets),
        np.asarray(selection.index, dtype=np.int64),
        len(first.lead_names),
        first.sampling_rate,
    )
    return ResolvedCorpus(spec, selection, records, first.lead_names)


def report_lines(report: dict[str, Any]) -> list[str]:
    """A corpus report as text: records per dataset, exclusions per reason, hours."""
    excluded = report["excluded"]
    lines = [
        f"corpus {report['corpus']}: {report['records']} records ({report['hours']:g} h of "
        f"ECG at {report['sampling_rate']} Hz, {len(report['leads'])} leads)"
        + ("" if report["size"] == "all" else f", a nested subset of {report['size']}")
        + f"; excluded: {excluded['id']} by id, {excluded['fingerprint']} by fingerprint, "
        f"{excluded['duplicate']} duplicates"
    ]
    for part in report["datasets"]:
        counts = part["excluded"]
        lines.append(
            f"  {part['dataset']:<14} {part['used']:>8} used of {part['records']} "
            f"({part['hours']:g} h); filtered {part['filtered']}, excluded id {counts['id']} / "
            f"fingerprint {counts['fingerprint']} / duplicate {counts['duplicate']}, "
            f"capped {part['capped']}"
        )
        lines += [f"    e.g. {example}" for example in part["examples"]]
    against = ", ".join(p["dataset"] for p in report["protected"]) or "none"
    lines.append(f"  excluded against the val/test folds of: {against}")
    return lines
