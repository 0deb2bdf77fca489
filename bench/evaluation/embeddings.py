"""Frozen embeddings of every record of a dataset, cached once per (encoder, data, windows)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from bench.atomic import atomic_write
from bench.data.signals import SignalSet
from bench.encoders.base import Encoder
from bench.errors import DataError
from bench.evaluation.windows import apply_windowed
from bench.hashing import stable_hash
from bench.paths import cache_dir


@dataclass(frozen=True)
class Embeddings:
    """One row of features per record, in ``record_ids`` order."""

    record_ids: np.ndarray
    features: np.ndarray

    def rows(self, record_ids: np.ndarray) -> np.ndarray:
        """Features of ``record_ids`` (DataError naming a record that has none)."""
        order = np.argsort(self.record_ids)
        positions = np.searchsorted(self.record_ids, record_ids, sorter=order)
        positions = np.clip(positions, 0, len(order) - 1)
        found = self.record_ids[order[positions]] == record_ids
        if not found.all():
            missing = record_ids[~found][:5].tolist()
            raise DataError(f"no cached embedding for records {missing}")
        return self.features[order[positions]]


def embedding_path(encoder_key: str, data: SignalSet, window: int, stride: int) -> Path:
    """Cache file of one encoder's embeddings of ``data`` (content fingerprint included)."""
    key = stable_hash(
        {
            "kind": "embeddings",
            "encoder": encoder_key,
            "dataset": data.name,
            "fingerprint": data.fingerprint,
            "window": window,
            "stride": stride,
        }
    )
    return cache_dir() / "embeddings" / f"{data.name}-{key}.npz"


def dataset_embeddings(
    encoder: Encoder,
    encoder_key: str,
    data: SignalSet,
    window: int,
    stride: int,
    device: torch.device,
    batch_size: int = 256,
) -> Embeddings:
    """Mean window embedding of every record of ``data``, from the cache or computed once."""
    path = embedding_path(encoder_key, data, window, stride)
    if path.exists():
        with np.load(path) as stored:
            return Embeddings(stored["record_ids"], stored["features"])
    encoder = encoder.to(device).eval()
    features = apply_windowed(
        data.signals, encoder.embed, window, stride, "mean", device, batch_size
    )
    record_ids = data.meta["record_id"].to_numpy(np.int64)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez(buffer, record_ids=record_ids, features=features)
    atomic_write(path, lambda handle: handle.write(buffer.getvalue()))
    return Embeddings(record_ids, features)
