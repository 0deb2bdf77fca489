"""Steps the adapters share: choosing leads by name, the official window, MERL's min-max, a
released classifier told apart from a fine-tuned one, and a first convolution re-ordered for
models trained on MIMIC-IV-ECG's lead order."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from torch import Tensor

from bench.checkpoints.state_dict import WeightsMismatchError
from bench.data.signals import CANONICAL_LEADS
from bench.errors import DataError

MIMIC_LEADS: tuple[str, ...] = (
    "I", "II", "III", "aVR", "aVF", "aVL", "V1", "V2", "V3", "V4", "V5", "V6",
)  # fmt: skip
"""MIMIC-IV-ECG's stored lead order (aVF before aVL), the order of models pretrained on it."""


def select_leads(
    raw: np.ndarray, leads: tuple[str, ...], wanted: tuple[str, ...], model: str
) -> np.ndarray:
    """The rows of ``raw`` [leads, samples] named ``wanted``, in that order (float64)."""
    if raw.ndim != 2 or raw.shape[0] != len(leads):
        raise DataError(
            f"{model}: expected a record [leads, samples] with {len(leads)} rows ({leads}), "
            f"got shape {raw.shape}"
        )
    missing = [lead for lead in wanted if lead not in leads]
    if missing:
        raise DataError(
            f"{model}: the record lacks leads {', '.join(missing)}; the model takes "
            f"{', '.join(wanted)}"
        )
    return np.asarray(raw, dtype=np.float64)[[leads.index(lead) for lead in wanted]]


def first_samples(signal: np.ndarray, samples: int, rate: float, model: str) -> np.ndarray:
    """The first ``samples`` of a record (DataError when it is shorter: no official rule)."""
    if signal.shape[-1] < samples:
        raise DataError(
            f"{model}: a record of {signal.shape[-1]} samples at {rate:g} Hz is shorter than "
            f"the official window of {samples} samples; the official code has no rule for "
            "short records: pass records at least that long"
        )
    return signal[..., :samples]


def refuse_retrained_head(
    state: Mapping[str, Tensor], key: str, outputs: int, path: Path, model: str
) -> None:
    """WeightsMismatchError when the classifier ``key`` does not have the released file's
    ``outputs`` rows: a fine-tuned file, whose head was replaced for another label set."""
    head = state.get(key)
    if head is not None and head.shape[0] != outputs:
        raise WeightsMismatchError(
            f"{path}: its classifier {key!r} has {head.shape[0]} outputs where the released "
            f"{model} file has {outputs}: this is a fine-tuned file; the benchmark evaluates "
            "the released pretrained weights: use that file"
        )


def canonical_lead_input(weight: Tensor, trained_order: tuple[str, ...]) -> Tensor:
    """A first-layer weight [out, leads, ...] trained on ``trained_order`` re-ordered so that
    it takes the canonical order (I, II, III, aVR, aVL, aVF, V1-V6) and computes the same."""
    return weight[:, [trained_order.index(lead) for lead in CANONICAL_LEADS]]


def min_max(x: np.ndarray) -> np.ndarray:
    """Each record [B, leads, T] mapped to [0, 1] by one min-max over all its leads (float32)."""
    low = x.min(axis=(1, 2), keepdims=True)
    high = x.max(axis=(1, 2), keepdims=True)
    return ((x - low) / (high - low + 1e-8)).astype(np.float32)
