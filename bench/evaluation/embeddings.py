"""Frozen embeddings of every record of a dataset, cached once per (encoder, data, windows)."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from bench.atomic import quarantine, verify_checked, write_checked
from bench.data.signals import SignalSet
from bench.encoders.base import Encoder
from bench.errors import CorruptFileError, DataError
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
    """Mean window embedding of every record of ``data``, from the cache or computed once.

    The cache file's checksum (sidecar) is verified on reading; a corrupt one is moved aside
    (reported by name) and computed again.
    """
    path = embedding_path(encoder_key, data, window, stride)
    if path.exists():
        cached = _read_cache(path)
        if cached is not None:
            return cached
    encoder = encoder.to(device).eval()
    features = apply_windowed(
        data.signals, encoder.embed, window, stride, "mean", device, batch_size
    )
    record_ids = data.meta["record_id"].to_numpy(np.int64)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez(buffer, record_ids=record_ids, features=features)
    write_checked(path, lambda handle: handle.write(buffer.getvalue()))
    return Embeddings(record_ids, features)


def _read_cache(path: Path) -> Embeddings | None:
    """The cached embeddings at ``path``; None (the file moved aside) when it is corrupt."""
    try:
        verify_checked(path)
        with np.load(path, allow_pickle=False) as stored:
            return Embeddings(stored["record_ids"], stored["features"])
    except (CorruptFileError, OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as error:
        quarantine(path, str(error).replace(str(path), path.name))
        return None
