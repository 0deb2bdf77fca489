"""Per-process memo of what cells share: loaded datasets, task views, encoders, embeddings."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch

from bench.data.loading import load_dataset
from bench.data.preprocess import Preprocessing
from bench.data.signals import SignalSet
from bench.encoders.base import Encoder
from bench.evaluation.embeddings import Embeddings, dataset_embeddings
from bench.grid.claims import embed_lease, pretrain_lease
from bench.grid.leases import Holder
from bench.grid.plan import Unit, plan_unit
from bench.grid.profiles import Profile
from bench.task import Task, TaskData
from bench.training.checkpoint import load_encoder
from bench.training.config import resolve_device
from bench.training.planning import input_spec_for, run_pretraining
from bench.training.state import seed_everything


@dataclass
class Workspace:
    """Loads each dataset once, pretrains each unit once, embeds each (encoder, data) once."""

    profile: Profile
    data_roots: dict[str, str] = field(default_factory=dict)
    progress: bool = True
    leases: Holder | None = None  # the runner's, to claim pretrainings and embeddings
    _datasets: dict[str, SignalSet] = field(default_factory=dict)
    _tasks: dict[str, TaskData] = field(default_factory=dict)
    _encoders: dict[str, Encoder] = field(default_factory=dict)
    _encoder_errors: dict[str, Exception] = field(default_factory=dict)
    _pretrainings: dict[str, dict[str, Any]] = field(default_factory=dict)
    _embeddings: dict[str, Embeddings] = field(default_factory=dict)

    @property
    def device(self) -> torch.device:
        """Where evaluation runs."""
        return resolve_device(self.profile.evaluation.device)

    def dataset(self, name: str, preprocessing: Preprocessing | None = None) -> SignalSet:
        """Dataset ``name`` with ``preprocessing`` (default: the profile's), from its cache."""
        options = self.profile.preprocessing if preprocessing is None else preprocessing
        key = name if options == self.profile.preprocessing else f"{name}@{options.key()}"
        if key not in self._datasets:
            root = self.data_roots.get(name)
            self._datasets[key] = load_dataset(name, root, options)
        return self._datasets[key]

    def task_data(self, task: Task, preprocessing: Preprocessing | None = None) -> TaskData:
        """The task's labelled view of its dataset (``preprocessing`` as in ``dataset``)."""
        options = self.profile.preprocessing if preprocessing is None else preprocessing
        key = task.name if options == self.profile.preprocessing else f"{task.name}@{options.key()}"
        if key not in self._tasks:
            self._tasks[key] = task.attach(self.dataset(task.dataset, options))
        return self._tasks[key]

    def plan_unit(self, method: str, dataset: str, seed: int | None = None) -> Unit:
        """The unit of ``method`` on ``dataset`` under the profile, on the data of its own
        input (the profile's shared preprocessing, or the method's native one)."""
        preprocessing = self.profile.resolve(method).preprocessing
        return plan_unit(method, dataset, self.profile, self.dataset(dataset, preprocessing), seed)

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
        """What the unit's pretraining recorded about its encoder (its collapse verdict).

        Empty for a unit without pretraining; builds the encoder first if needed.
        """
        self.encoder(unit, seed)
        return self._pretrainings.get(self.encoder_key(unit, seed), {})

    def _build_encoder(self, unit: Unit, seed: int) -> Encoder:
        data = self.unit_data(unit)
        if unit.plan is not None:
            with self._claimed(pretrain_lease(unit.key)):
                result = run_pretraining(unit.plan, data, progress=self.progress)
            self._pretrainings[unit.key] = {"collapse": result.collapse}
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
