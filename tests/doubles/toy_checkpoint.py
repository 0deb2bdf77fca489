"""A toy published checkpoint: the ToyEncoder under "official" key names, a card whose corpus
is PhysioNet/CinC 2021, and a helper writing its weights file in the "official" format."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch
from torch import Tensor

from bench.checkpoints.card import ModelCard, OfficialInput
from bench.checkpoints.method import CheckpointMethod
from bench.data.preprocess import resample
from bench.data.signals import CANONICAL_LEADS
from bench.encoders.base import InputSpec
from bench.method import METHODS
from tests.doubles.toys import ToyConfig, ToyEncoder

OFFICIAL_PREFIX = "backbone."


class ToyCheckpoint(CheckpointMethod):
    """ToyEncoder weights stored as {"model": {"backbone.<key>": ...}}; 100 Hz, 2.5 s."""

    name: ClassVar[str] = "toy-checkpoint"
    card: ClassVar[ModelCard] = ModelCard(
        title="Toy checkpoint",
        paper="nobody, 2026",
        code="example/toy: model.py",
        licence="MIT",
        architecture="Conv1d + LayerNorm",
        file_name="toy_checkpoint.pt",
        url="https://example.org/toy_checkpoint.pt",
        corpus=("cinc2021",),
    )
    official_input: ClassVar[OfficialInput] = OfficialInput(
        rate=100, leads=CANONICAL_LEADS, samples=250, scaling="none"
    )
    encoder_class = ToyEncoder
    sizes: ClassVar[Mapping[str, ToyConfig]] = {
        "base": ToyConfig(hidden=8, dropout=0.0),
        "tiny": ToyConfig(hidden=4, dropout=0.0),
    }
    default_size: ClassVar[str] = "base"
    state_dict_keys: ClassVar[tuple[str, ...]] = ("model",)
    head_pattern: ClassVar[str | None] = r"^classifier\."

    @classmethod
    def convert(cls, official: Mapping[str, Tensor]) -> Mapping[str, Tensor]:
        return {k.removeprefix(OFFICIAL_PREFIX): v for k, v in official.items()}

    @classmethod
    def preprocess(cls, raw: np.ndarray, rate: float, leads: tuple[str, ...]) -> np.ndarray:
        order = [leads.index(lead) for lead in CANONICAL_LEADS]
        signal = resample(np.asarray(raw, np.float32)[order], int(rate), 100, "poly")
        return signal[:, : cls.official_input.samples]


def write_official(path: Path, size: str = "base", seed: int = 0, **extra: Tensor) -> Path:
    """A ToyCheckpoint weights file in its official format (``extra`` keys added raw)."""
    torch.manual_seed(seed)
    spec = ToyCheckpoint.official_input_spec()
    encoder = ToyEncoder(ToyCheckpoint.sizes[size], spec)
    state = {OFFICIAL_PREFIX + k: v for k, v in encoder.state_dict().items()}
    torch.save({"model": {**state, **extra}}, path)
    return path


@pytest.fixture
def toy_checkpoint(monkeypatch: pytest.MonkeyPatch) -> type[ToyCheckpoint]:
    """ToyCheckpoint registered for this test only."""
    METHODS.names()
    monkeypatch.setitem(METHODS._items, ToyCheckpoint.name, ToyCheckpoint)
    return ToyCheckpoint


def toy_spec() -> InputSpec:
    """The toy's official input spec."""
    return ToyCheckpoint.official_input_spec()
