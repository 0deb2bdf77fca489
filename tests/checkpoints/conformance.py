"""Helpers of the conformance tests: an adapter loaded from a fixture file, its embedding of
the fixture's inputs, and edited copies of an official weights file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from bench.checkpoints.method import CheckpointConfig, CheckpointMethod

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "checkpoints"


def load_adapter(cls: type[CheckpointMethod], weights: Path) -> CheckpointMethod:
    """The adapter at its tiny size with ``weights``, built for its official input."""
    return cls(CheckpointConfig(size="tiny", weights=str(weights)), cls.official_input_spec())


def embed(method: CheckpointMethod, inputs: np.ndarray) -> np.ndarray:
    """``embed`` of float32 ``inputs`` in eval mode without gradients."""
    method.network.eval()
    with torch.no_grad():
        return method.network.embed(torch.from_numpy(inputs.astype(np.float32))).numpy()


def edited_copy(
    source: Path,
    target: Path,
    state_key: str | None,
    edit: Callable[[dict[str, Tensor]], None],
) -> Path:
    """``source`` saved to ``target`` after ``edit`` changed its state dict in place (the one
    under ``state_key``, or the whole file when None)."""
    stored: Any = torch.load(source, map_location="cpu", weights_only=True)
    state = dict(stored[state_key] if state_key else stored)
    edit(state)
    if state_key:
        stored[state_key] = state
    torch.save(stored if state_key else state, target)
    return target
