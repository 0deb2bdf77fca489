"""The plugin base of a published checkpoint: a Method that loads weights instead of training.

An adapter (``methods/checkpoints/<model>.py``) subclasses ``CheckpointMethod`` and sets
``name``, ``card``, ``official_input``, ``encoder_class`` (the published architecture written in
this project, an ``Encoder``), ``sizes`` (named configs of that architecture: the published one
and a tiny one for conformance fixtures), ``default_size``, ``state_dict_keys`` (where the
official file keeps the weights) and, where the release also has fine-tuned files,
``head_pattern``. It implements ``convert`` (official keys -> this encoder's keys) and
``preprocess`` (a raw record -> the official input, as the official code prepares it), and
overrides ``official_window`` where the official code filters or scales each window (the
default only selects and orders the leads), so the grid's windows get the official steps too.

The grid treats it like a baseline that needs no pretraining (``needs_pretraining`` False) whose
encoder arrives pretrained: its unit is keyed by the weights file's SHA-256, it always gets its
official input (``fixed_input``), its fine-tuning trains a pretrained encoder, and
``random_init[<model>]`` / ``supervised[<model>]`` build the same architecture untrained.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from torch import Tensor

from bench.checkpoints.card import ModelCard, OfficialInput
from bench.checkpoints.leakage import overlap
from bench.checkpoints.state_dict import (
    load_checked,
    read_weights,
    refuse_finetuned,
    unwrap,
)
from bench.checkpoints.weights import resolve_weights, sha256
from bench.checkpoints.window import OfficialWindowEncoder
from bench.encoders.base import Encoder, InputSpec
from bench.errors import BenchError, ConfigError
from bench.method import InputRegime, Method, Protocol


@dataclass(frozen=True)
class CheckpointConfig:
    """size: a named configuration of the architecture (the published one by default; a tiny
    one for conformance fixtures); weights: the weights file (None: ``--weights NAME=PATH``,
    then ``$BENCH_WEIGHTS_DIR/<official file name>``, then the hub cache)."""

    size: str = ""
    weights: str | None = None


class CheckpointMethod(Method):
    """A published encoder with its official weights, evaluated as its authors' code runs it."""

    config_class: ClassVar[type[Any]] = CheckpointConfig
    needs_pretraining: ClassVar[bool] = False
    pretrained: ClassVar[bool] = True
    fixed_input: ClassVar[bool] = True
    protocols: ClassVar[tuple[Protocol, ...]] = ("linear", "finetune")
    card: ClassVar[ModelCard]
    official_input: ClassVar[OfficialInput]
    encoder_class: ClassVar[type[Encoder]]
    sizes: ClassVar[Mapping[str, Any]]
    default_size: ClassVar[str]
    state_dict_keys: ClassVar[tuple[str, ...]] = ("",)
    head_pattern: ClassVar[str | None] = None
    trusted_pickle: ClassVar[bool] = False

    def __init__(self, config: CheckpointConfig, input_spec: InputSpec):
        super().__init__(config, input_spec)
        self.network = self.encoder_class(self.architecture(config), self.official_input_spec())
        self.weights_path = resolve_weights(self.name, self.card, config.weights)
        self.load_official(self.network, self.weights_path)
        self.encoder = self.grid_encoder(self.network).eval()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "official_input" in cls.__dict__:
            spec = cls.official_input
            cls.native_input = InputRegime.of(spec.preprocessing(), spec.window_s)
            if spec.window_rate % spec.rate:
                raise TypeError(f"{cls.__name__}: grid_rate must be a multiple of rate")

    @classmethod
    def official_window(cls, windows: np.ndarray) -> np.ndarray:
        """Grid windows [B, grid leads (canonical order), window samples] at the window rate ->
        the official input [B, model leads, samples]: the model's leads in its order."""
        grid = cls.official_input.grid_leads
        return windows[:, [grid.index(lead) for lead in cls.official_input.leads]]

    @classmethod
    def grid_encoder(cls, network: Encoder) -> Encoder:
        """``network`` as the grid runs it: behind ``official_window`` unless that would
        leave the windows as they are."""
        spec = cls.official_input
        plain = cls.official_window.__func__ is CheckpointMethod.official_window.__func__
        if plain and spec.grid_leads == spec.leads:
            return network
        return OfficialWindowEncoder(network, cls.official_window, spec.window_rate // spec.rate)

    @classmethod
    def architecture(cls, config: CheckpointConfig) -> Any:
        """The encoder config of ``config.size`` (the published size when empty)."""
        size = config.size or cls.default_size
        if size not in cls.sizes:
            raise ConfigError(
                f"{cls.name}: unknown size {size!r}; known sizes: {', '.join(sorted(cls.sizes))}"
            )
        return cls.sizes[size]

    @classmethod
    def untrained_encoder(cls, config: CheckpointConfig, input_spec: InputSpec) -> Encoder:
        """The architecture of ``config``, freshly initialised, as the grid runs it (matched
        baselines use it: the same network on the same input)."""
        return cls.grid_encoder(
            cls.encoder_class(cls.architecture(config), cls.official_input_spec())
        )

    @classmethod
    def official_input_spec(cls) -> InputSpec:
        """The input spec of the official window."""
        spec = cls.official_input
        return InputSpec(n_leads=len(spec.leads), n_samples=spec.samples, sampling_rate=spec.rate)

    @classmethod
    def load_official(cls, encoder: Encoder, path: Path) -> None:
        """Load the official file at ``path`` into ``encoder`` (keys and shapes checked)."""
        stored = read_weights(path, trusted_pickle=cls.trusted_pickle)
        state = unwrap(stored, cls.state_dict_keys, path)
        if cls.head_pattern is not None:
            refuse_finetuned(state, cls.head_pattern, path, cls.card.title)
        load_checked(encoder, cls.convert(state), path)

    @classmethod
    def unit_identity(cls, config: CheckpointConfig) -> dict[str, Any]:
        """What names the weights in run keys and provenance: file name and SHA-256."""
        path = resolve_weights(cls.name, cls.card, config.weights)
        return {"weights": path.name, "weights_sha256": sha256(path)}

    @classmethod
    def seen_in_training(cls, task_sources: tuple[str, ...]) -> str | None:
        """The leakage note of a task whose data overlaps the card's corpora."""
        found = overlap(cls.name, cls.card, task_sources)
        return None if found is None else found.note()

    @classmethod
    @abstractmethod
    def convert(cls, official: Mapping[str, Tensor]) -> Mapping[str, Tensor]:
        """The official state dict under this encoder's parameter names."""

    @classmethod
    @abstractmethod
    def preprocess(cls, raw: np.ndarray, rate: float, leads: tuple[str, ...]) -> np.ndarray:
        """A raw record [leads, samples] in mV at ``rate`` Hz, its leads named ``leads``
        (canonical names, any order) -> the official input [model leads, window samples]."""

    def loss(self, batch: Tensor) -> dict[str, Tensor]:
        """Always raises: a published checkpoint is evaluated, not pretrained here."""
        raise BenchError(f"{self.name} is a published checkpoint; it is evaluated, not pretrained")
