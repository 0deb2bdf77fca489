"""Per-process memo of what cells share: loaded datasets, task views, encoders, embeddings."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from bench.data.loading import load_dataset
from bench.data.signals import SignalSet
from bench.encoders.base import Encoder
from bench.evaluation.embeddings import Embeddings, dataset_embeddings
from bench.grid.plan import Unit
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
    _datasets: dict[str, SignalSet] = field(default_factory=dict)
    _tasks: dict[str, TaskData] = field(default_factory=dict)
    _encoders: dict[str, Encoder] = field(default_factory=dict)
    _encoder_errors: dict[str, Exception] = field(default_factory=dict)
    _embeddings: dict[str, Embeddings] = field(default_factory=dict)

    @property
    def device(self) -> torch.device:
        """Where evaluation runs."""
        return resolve_device(self.profile.evaluation.device)

    def dataset(self, name: str) -> SignalSet:
        """Dataset ``name`` with the profile's preprocessing (from its cache)."""
        if name not in self._datasets:
            root = self.data_roots.get(name)
            self._datasets[name] = load_dataset(name, root, self.profile.preprocessing)
        return self._datasets[name]

    def task_data(self, task: Task) -> TaskData:
        """The task's labelled view of its dataset."""
        if task.name not in self._tasks:
            self._tasks[task.name] = task.attach(self.dataset(task.dataset))
        return self._tasks[task.name]

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

    def _build_encoder(self, unit: Unit, seed: int) -> Encoder:
        data = self.dataset(unit.dataset)
        if unit.plan is not None:
            result = run_pretraining(unit.plan, data, progress=self.progress)
            return load_encoder(result.checkpoint)
        seed_everything(seed)
        spec = input_spec_for(data, unit.setup.window_s)
        return unit.setup.method(unit.setup.method_config, spec).encoder

    def embeddings(self, unit: Unit, seed: int) -> Embeddings:
        """Frozen embeddings of every record of the unit's dataset (cached on disk)."""
        key = self.encoder_key(unit, seed)
        if key not in self._embeddings:
            data = self.dataset(unit.dataset)
            window, stride = self.window(data)
            self._embeddings[key] = dataset_embeddings(
                self.encoder(unit, seed),
                key,
                data,
                window,
                stride,
                self.device,
                self.profile.evaluation.batch_size,
            )
        return self._embeddings[key]

    def window(self, data: SignalSet) -> tuple[int, int]:
        """Window and stride in samples at ``data``'s rate."""
        window = round(self.profile.window_s * data.sampling_rate)
        stride_s = self.profile.evaluation.stride_s
        stride = round(stride_s * data.sampling_rate) if stride_s else max(1, window // 2)
        return window, stride

    @staticmethod
    def encoder_key(unit: Unit, seed: int) -> str:
        """Pretrained encoders serve every seed; a baseline's init depends on the seed."""
        return unit.key if unit.needs_pretraining else f"{unit.key}-seed{seed}"
