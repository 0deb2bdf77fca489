"""In-memory datasets for corpus tests: a task dataset and corpus datasets holding planted
copies of its val/test records (by signal and by id alias) and duplicates of each other."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bench.data.signals import SignalSet
from bench.data.sources.synthetic import synthetic_signal_set
from bench.data.synthetic.config import GeneratorConfig


def generated(name: str, n_records: int, seed: int) -> SignalSet:
    """``n_records`` synthetic records named ``name`` with global ids and no aliases."""
    base = synthetic_signal_set(GeneratorConfig(n_records=n_records, seed=seed))
    meta = base.meta.copy()
    meta["global_id"] = [f"{name}:{record}" for record in meta["record_id"]]
    meta["aliases"] = [() for _ in range(len(meta))]
    return SignalSet(
        name, np.array(base.signals), meta, base.sampling_rate, base.lead_names, f"{name}-{seed}"
    )


def with_copies(data: SignalSet, rows: Sequence[int], signals: np.ndarray) -> SignalSet:
    """``data`` with the records at ``rows`` replaced by ``signals`` (copies of other ECGs)."""
    copied = np.array(data.signals)
    copied[list(rows)] = signals
    return SignalSet(
        data.name, copied, data.meta, data.sampling_rate, data.lead_names, data.fingerprint + "c"
    )


def with_alias(data: SignalSet, row: int, alias: str) -> SignalSet:
    """``data`` whose record ``row`` also names ``alias`` (the same ECG in another dataset)."""
    meta = data.meta.copy()
    meta["aliases"] = [
        (alias,) if i == row else aliases for i, aliases in enumerate(meta["aliases"])
    ]
    return SignalSet(
        data.name, data.signals, meta, data.sampling_rate, data.lead_names, data.fingerprint + "a"
    )


def with_sources(data: SignalSet, sources: Sequence[str]) -> SignalSet:
    """``data`` with a ``source`` column cycling through ``sources``."""
    meta = data.meta.copy()
    meta["source"] = [sources[i % len(sources)] for i in range(len(meta))]
    return SignalSet(
        data.name, data.signals, meta, data.sampling_rate, data.lead_names, data.fingerprint
    )


def planted(task: SignalSet) -> tuple[SignalSet, SignalSet]:
    """corpus-a (120 records): records 0-4 are copies of task test records, record 5 aliases a
    task validation record; corpus-b (80): records 0-1 are copies of corpus-a records 10-11."""
    test, val = task.split_indices("test"), task.split_indices("val")
    a = with_copies(generated("corpus-a", 120, 7), range(5), np.asarray(task.signals)[test[:5]])
    a = with_alias(a, 5, f"{task.name}:{task.meta['record_id'].iloc[val[0]]}")
    b = with_copies(generated("corpus-b", 80, 8), range(2), np.asarray(a.signals)[10:12])
    return a, b


def task_dataset() -> SignalSet:
    """The evaluation dataset (300 records, name "synthetic" as the grid's synthetic-small)."""
    return synthetic_signal_set(GeneratorConfig(n_records=300, seed=1))


__all__ = ["generated", "planted", "task_dataset", "with_alias", "with_copies", "with_sources"]
