"""Per-process memo of what cells share: loaded datasets, task views, encoders, embeddings and
token features."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from bench.config import from_dict
from bench.data.corpus.naming import parse_corpus
from bench.data.corpus.resolve import ResolvedCorpus, resolve_corpus
from bench.data.corpus.select import (
    Size,
    identity_preprocessing,
    protected_records,
    stores_fingerprints,
)
from bench.data.loading import DATASETS, load_dataset
from bench.data.preprocess import Preprocessing
from bench.data.signals import SignalSet
from bench.encoders.base import Encoder
from bench.errors import DataError
from bench.evaluation.embeddings import Embeddings, dataset_embeddings
from bench.evaluation.token_cache import DatasetTokens, dataset_tokens
from bench.grid.claims import embed_lease, pretrain_lease
from bench.grid.leases import Holder
from bench.grid.plan import plan_unit
from bench.grid.profiles import Profile
from bench.grid.unit import Unit
from bench.task import Task, TaskData
from bench.training.checkpoint import load_encoder
from bench.training.config import resolve_device
from bench.training.planning import input_spec_for, run_pretraining
from bench.training.state import seed_everything


@dataclass
class Workspace:
    """Loads each dataset once, pretrains each unit once, embeds each (encoder, data) once
    (mean embeddings, and token features where attentive cells ask for them).

    With ``pretrain_data`` (a corpus spec, ``bench.data.corpus.spec``) SSL methods pretrain on that
    corpus, without the records that are in the val/test folds of ``protected_datasets`` (the
    datasets of the run's tasks).
    """

    profile: Profile
    data_roots: dict[str, str] = field(default_factory=dict)
    progress: bool = True
    leases: Holder | None = None  # the runner's, to claim pretrainings and embeddings
    pretrain_data: str | None = None
    protected_datasets: tuple[str, ...] = ()
    _datasets: dict[str, SignalSet] = field(default_factory=dict)
    _tasks: dict[str, TaskData] = field(default_factory=dict)
    _encoders: dict[str, Encoder] = field(default_factory=dict)
    _encoder_errors: dict[str, Exception] = field(default_factory=dict)
    _pretrainings: dict[str, dict[str, Any]] = field(default_factory=dict)
    _embeddings: dict[str, Embeddings] = field(default_factory=dict)
    _tokens: dict[str, DatasetTokens] = field(default_factory=dict)
    noise_memo: dict[tuple[Any, ...], Any] = field(default_factory=dict)  # bench.grid.cell_noise
    _corpora: dict[tuple[str, Size], ResolvedCorpus] = field(default_factory=dict)
    _units: dict[tuple[str, str, int | None, Size], Unit] = field(default_factory=dict)

    @property
    def device(self) -> torch.device:
        """Where evaluation runs."""
        return resolve_device(self.profile.evaluation.device)

    def dataset(self, name: str, preprocessing: Preprocessing | None = None) -> SignalSet:
        """Dataset ``name`` with ``preprocessing`` (default: the profile's), from its cache."""
        options = self.profile.preprocessing if preprocessing is None else preprocessing
        key = name if options == self.profile.preprocessing else f"{name}@{options.key()}"
        if key not in self._datasets:
            source = DATASETS.get(name)  # a task file's view reads its dataset's root
            root = self.data_roots.get(name) or self.data_roots.get(source.roots_as or name)
            self._datasets[key] = load_dataset(name, root, options)
        return self._datasets[key]

    def record_signal(
        self, name: str, preprocessing: Mapping[str, Any], record_id: int
    ) -> tuple[np.ndarray, tuple[str, ...]]:
        """Record ``record_id`` of dataset ``name`` under ``preprocessing`` (as a cell config
        records it): its float32 [leads, T] signal and the lead names."""
        data = self.dataset(name, from_dict(Preprocessing, dict(preprocessing)))
        rows = np.flatnonzero(data.meta["record_id"].to_numpy(np.int64) == record_id)
        if not len(rows):
            raise DataError(f"{name}: no record with id {record_id}")
        return np.asarray(data.signals[int(rows[0])], dtype=np.float32), data.lead_names

    def task_data(self, task: Task, preprocessing: Preprocessing | None = None) -> TaskData:
        """The task's labelled view of its dataset (``preprocessing`` as in ``dataset``)."""
        options = self.profile.preprocessing if preprocessing is None else preprocessing
        key = task.name if options == self.profile.preprocessing else f"{task.name}@{options.key()}"
        if key not in self._tasks:
            self._tasks[key] = task.attach(self.dataset(task.dataset, options))
        return self._tasks[key]

    def plan_unit(
        self, method: str, dataset: str, seed: int | None = None, records: Size = "all"
    ) -> Unit:
        """The unit of ``method`` on ``dataset`` under the profile, on the data of its own
        input (the profile's shared preprocessing, or the method's native one); an SSL method
        pretrains on ``records`` of the workspace's corpus when it has one. Planned once per
        process (a pool worker re-plans the unit of every cell it runs)."""
        key = (method, dataset, seed, records)
        if key not in self._units:
            setup = self.profile.resolve(method)
            data = self.dataset(dataset, setup.preprocessing)
            corpus = None
            if self.pretrain_data is not None and setup.method.needs_pretraining:
                corpus = self.corpus(setup.preprocessing, records)
            self._units[key] = plan_unit(method, dataset, self.profile, data, seed, corpus)
        return self._units[key]

    def corpus(self, preprocessing: Preprocessing, records: Size = "all") -> ResolvedCorpus:
        """The workspace's corpus at ``preprocessing``: ``records`` of it (a nested subset or
        "all"), leaked and duplicate records excluded (resolved once per process)."""
        if self.pretrain_data is None:
            raise ValueError("this workspace has no pretraining corpus")
        key = (preprocessing.key(), records)
        if key not in self._corpora:
            spec = parse_corpus(self.pretrain_data)
            parts = [self.dataset(name, preprocessing) for name in spec.datasets]
            identity = [self.identity_set(name, preprocessing) for name in spec.datasets]
            protected = protected_records(
                [self.identity_set(name, preprocessing) for name in self.protected_datasets]
            )
            self._corpora[key] = resolve_corpus(spec, parts, protected, records, identity)
        return self._corpora[key]

    def identity_set(self, name: str, preprocessing: Preprocessing) -> SignalSet:
        """Dataset ``name`` as its records' ids and fingerprints are read: as loaded when its
        cache stored the fingerprints, else at the rate alone (``identity_preprocessing``)."""
        data = self.dataset(name, preprocessing)
        if stores_fingerprints(data):
            return data
        return self.dataset(name, identity_preprocessing(preprocessing))

    def unit_data(self, unit: Unit) -> SignalSet:
        """The dataset as the unit's encoder sees it (its preprocessing)."""
        return self.dataset(unit.dataset, unit.setup.preprocessing)

    def encoder(self, unit: Unit, seed: int) -> Encoder:
        """The unit's encoder: pretrained once (resuming if interrupted) or a seeded init.

        A pretraining that failed is not retried within this process: its error is raised
        again for every cell that needs it (the next run retries).
        """
        key = self.encoder_key(unit, seed)
        if key in self._encoder_errors:
            raise self._encoder_errors[key]
        if key not in self._encoders:
            try:
                self._encoders[key] = self._build_encoder(unit, seed)
            except Exception as error:
                self._encoder_errors[key] = error
                raise
        return self._encoders[key]

    def pretraining(self, unit: Unit, seed: int) -> dict[str, Any]:
        """What the unit's pretraining recorded about its encoder (its collapse verdict, and
        ``notes`` such as a batch capped to a small training set).

        Empty for a unit without pretraining; builds the encoder first if needed.
        """
        self.encoder(unit, seed)
        return self._pretrainings.get(self.encoder_key(unit, seed), {})

    def _build_encoder(self, unit: Unit, seed: int) -> Encoder:
        data = self.unit_data(unit)
        if unit.plan is not None:
            corpus = None
            if unit.plan.spec.corpus is not None:
                corpus = self.corpus(unit.setup.preprocessing, unit.corpus_records or "all")
            with self._claimed(pretrain_lease(unit.key)):
                result = run_pretraining(unit.plan, data, self.progress, corpus)
            self._pretrainings[unit.key] = {"collapse": result.collapse}
            if result.notes:  # e.g. a batch capped to a small training set
                self._pretrainings[unit.key]["notes"] = list(result.notes)
            if corpus is not None:
                report = corpus.report()
                self._pretrainings[unit.key]["corpus"] = {
                    "name": corpus.spec.name,
                    "label": corpus.label,
                    "records": report["records"],
                    "hours": report["hours"],
                    "excluded": report["excluded"],
                }
            return load_encoder(result.checkpoint)
        seed_everything(unit.seed if unit.seed is not None else seed)
        spec = input_spec_for(data, unit.setup.window_s)
        return unit.setup.method(unit.setup.method_config, spec).encoder

    def embeddings(self, unit: Unit, seed: int) -> Embeddings:
        """Frozen embeddings of every record of the unit's dataset (cached on disk)."""
        key = self.encoder_key(unit, seed)
        if key not in self._embeddings:
            data = self.unit_data(unit)
            window, stride = self.window(data, unit)
            encoder = self.encoder(unit, seed)
            with self._claimed(embed_lease(key)):
                self._embeddings[key] = dataset_embeddings(
                    encoder,
                    key,
                    data,
                    window,
                    stride,
                    self.device,
                    unit.evaluation.batch_size,
                )
        return self._embeddings[key]

    def tokens(self, unit: Unit, seed: int) -> DatasetTokens:
        """Frozen token features of every record of the unit's dataset (the attentive probe's
        input, ``bench.evaluation.token_cache``; cached on disk)."""
        key = self.encoder_key(unit, seed)
        if key not in self._tokens:
            data = self.unit_data(unit)
            window = self.window(data, unit)
            encoder = self.encoder(unit, seed)
            evaluation = unit.evaluation
            with self._claimed(embed_lease(f"{key}-tokens")):
                self._tokens[key] = dataset_tokens(
                    encoder, key, data, window, evaluation.attentive.steps, self.device,
                    evaluation.batch_size,
                )  # fmt: skip
        return self._tokens[key]

    def _claimed(self, lease: str) -> AbstractContextManager[None]:
        """Hold ``lease`` (waiting while another runner has it) when this workspace claims."""
        return self.leases.hold(lease) if self.leases is not None else nullcontext()

    def window(self, data: SignalSet, unit: Unit | None = None) -> tuple[int, int]:
        """Window and stride in samples at ``data``'s rate: the unit's window (its pretraining
        crop) and evaluation stride, or the profile's without a unit."""
        window_s = self.profile.window_s if unit is None else unit.setup.window_s
        window = round(window_s * data.sampling_rate)
        evaluation = self.profile.evaluation if unit is None else unit.evaluation
        stride_s = evaluation.stride_s
        stride = round(stride_s * data.sampling_rate) if stride_s else max(1, window // 2)
        return window, stride

    @staticmethod
    def encoder_key(unit: Unit, seed: int) -> str:
        """Pretrained encoders serve every cell seed; a baseline's init depends on its unit's
        initialisation seed (or, for a unit without one, on the cell seed)."""
        if unit.needs_pretraining:
            return unit.key
        return f"{unit.key}-seed{unit.seed if unit.seed is not None else seed}"
