"""A task file's view of a dataset: the dataset read from the file's root and options, with the
task's seeded folds when it asks for them.

A view is a dataset of its own (registered under ``<dataset>.<digest>``), so a pretraining on
it uses the view's training folds: with seeded folds, no test record of the task is ever in
an SSL method's pretraining data. Its fingerprint is the dataset's plus the fold assignment, so
keys change with the folds. Views with the same dataset, root, options and folds are one view
(two task files on the same data share its pretrainings). Without a root in the file, the
dataset's usual one is read (``--data-root NAME=PATH`` or ``$BENCH_<NAME>_ROOT``).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from pathlib import Path

from bench.data.folds import assign_folds, fold_spec
from bench.data.loading import DATASETS, DatasetSource
from bench.data.signals import SignalSet
from bench.data.storage.ragged_source import RaggedSource
from bench.errors import ConfigError
from bench.hashing import stable_hash
from bench.task.spec import DatasetSpec, SeededFolds

Strata = Callable[[SignalSet], list[tuple[str, ...]]]  # each record's classes, for the folds


class DatasetView(DatasetSource):
    """Dataset ``spec.name`` read with the file's root and options, re-folded if asked."""

    def __init__(
        self, spec: DatasetSpec, folds: SeededFolds | None, strata: Strata, labels_digest: str
    ) -> None:
        source = DATASETS.get(spec.name)
        if spec.options and not isinstance(source, RaggedSource):
            raise ConfigError(f"dataset {spec.name} takes no options (task file dataset.options)")
        if isinstance(source, RaggedSource):
            source.resolve_options(spec.options)  # an unknown option fails here, named
        if spec.root is not None and not Path(spec.root).is_dir():
            raise ConfigError(f"dataset.root {spec.root} is not a folder")
        self.spec, self.folds, self.strata = spec, folds, strata
        identity = {"dataset": dataclasses.asdict(spec), "folds": None}
        if folds is not None:  # stratified on the task's labels: the labels define the folds
            identity["folds"] = {**dataclasses.asdict(folds), "labels": labels_digest}
        self.digest = stable_hash(identity)
        self.name = f"{spec.name}.{self.digest[:8]}"  # type: ignore[misc]
        self.needs_root = spec.root is None and source.needs_root  # type: ignore[misc]
        self.roots_as = spec.name  # type: ignore[misc]

    def load(self, root: Path | None, rate: int | None, cache: Path) -> SignalSet:
        """The dataset (its cache, built on first use) as the view sees it."""
        source = DATASETS.get(self.spec.name)
        root = Path(self.spec.root) if self.spec.root is not None else root
        if isinstance(source, RaggedSource):
            data = source.prepare(root, rate, cache, options=self.spec.options).data
        else:
            data = source.load(root, rate, cache)
        spec = dict(data.fold_spec)
        if self.folds is not None:
            patients = data.meta["patient_id"].to_numpy()
            meta = data.meta.copy()
            meta["fold"] = assign_folds(self.strata(data), patients, self.folds.seed)
            spec = {**fold_spec(self.folds.seed), "by": self.folds.by, "view": self.name}
            data = dataclasses.replace(data, meta=meta)
        digest = hashlib.sha256(f"{data.fingerprint}:{self.digest}".encode()).hexdigest()[:16]
        return dataclasses.replace(data, name=self.name, fingerprint=digest, fold_spec=spec)
