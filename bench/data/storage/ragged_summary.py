"""The text ``bench data prepare`` and ``bench data info`` print about a variable-length cache:
records per source, native rates, a length histogram, classes with counts, notes and skips."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.data.signals import SPLIT_FOLDS, SignalSet
from bench.data.storage.cache import BadRecord

LENGTH_EDGES_S: tuple[float, ...] = (0, 6, 10, 11, 30, 60, 120, 600, 1800)
SHOWN_CLASSES = 30
SHOWN_ITEMS = 10


def summary_lines(
    data: SignalSet, manifest: dict[str, Any], skipped: Sequence[BadRecord]
) -> list[str]:
    """Lines describing the cache of ``data`` (meta columns written by the ragged builder)."""
    meta = data.meta
    lines = [
        f"  {len(meta)} records, {len(data.lead_names)} leads at {data.sampling_rate} Hz, "
        f"fingerprint {data.fingerprint}; folds {_folds(manifest)}"
    ]
    sources = Counter(meta["source"])
    lines.append("records per source: " + ", ".join(f"{s} {n}" for s, n in sorted(sources.items())))
    rates = Counter(meta["native_rate"])
    lines.append("native rates: " + ", ".join(f"{r:g} Hz: {n}" for r, n in sorted(rates.items())))
    lines.append("lengths (s): " + _length_histogram(data.lengths / data.sampling_rate))
    counts = Counter(label for labels in meta["labels"] for label in labels)
    unlabelled = int(sum(1 for labels in meta["labels"] if not labels))
    lines.append(f"classes: {len(counts)} ({unlabelled} records without a label)")
    for label, count in counts.most_common(SHOWN_CLASSES):
        lines.append(f"  {count:>6}  {label}")
    if len(counts) > SHOWN_CLASSES:
        lines.append(f"  ... and {len(counts) - SHOWN_CLASSES} more")
    if "annotations" in data.tables:
        waves = Counter(data.tables["annotations"]["wave"])
        shown = ", ".join(f"{wave} {count}" for wave, count in sorted(waves.items()))
        lines.append(f"annotated waves: {sum(waves.values())} ({shown})")
    fold_counts = Counter(meta["fold"].astype(int))
    lines.append("records per fold: " + "  ".join(f"{f}: {fold_counts[f]}" for f in range(1, 11)))
    splits = {s: sum(fold_counts[f] for f in folds) for s, folds in SPLIT_FOLDS.items()}
    lines.append("  " + ", ".join(f"{split} {count}" for split, count in splits.items()))
    lines += _listed("notes", [f"{n['record']}: {n['note']}" for n in manifest["notes"]])
    lines += _listed("skipped records", [f"{b.file}: {b.reason}" for b in skipped])
    return lines


def _folds(manifest: dict[str, Any]) -> str:
    spec = manifest["folds"]
    return f"{spec['method']} v{spec['version']}, seed {spec['seed']}"


def _length_histogram(seconds: np.ndarray) -> str:
    edges = np.asarray(LENGTH_EDGES_S)
    counts = np.histogram(np.clip(seconds, 0, edges[-1]), bins=edges)[0]
    parts = [f"{edges[i]:g}-{edges[i + 1]:g}: {count}" for i, count in enumerate(counts) if count]
    return ", ".join(parts) + f" (min {seconds.min():.1f}, max {seconds.max():.1f})"


def _listed(title: str, items: list[str]) -> list[str]:
    if not items:
        return []
    lines = [f"{title}: {len(items)}"]
    lines += [f"  {item}" for item in items[:SHOWN_ITEMS]]
    if len(items) > SHOWN_ITEMS:
        lines.append(f"  ... and {len(items) - SHOWN_ITEMS} more (see manifest.json)")
    return lines
