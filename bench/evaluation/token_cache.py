"""Token features of every record of a dataset, cached once per (encoder, data, windows, steps).

Like the embedding cache (``bench.evaluation.embeddings``), so that a grid of attentive heads
(every task, fraction, seed and head setting of one encoder) runs the encoder once. Two files
under ``<cache>/tokens``: ``<name>.npy``, the flat float16 [tokens, D] values (read
memory-mapped: the probe reads the batches it needs), and ``<name>.index.npz``, the record ids
with each record's first token and token count, written last. Both carry checksum sidecars; a
corrupt pair is moved aside (reported by name) and computed again. Size on disk: records x
windows x leads (or 1) x ``steps`` x ``feature_dim`` x 2 bytes (the PTB-XL subset with the
smoke profile's tiny transformer and 5 steps: 1,819 x 4 x 12 x 5 x 64 x 2 B = 56 MB).
"""

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
from bench.evaluation.tokens import RecordTokens, record_tokens
from bench.hashing import stable_hash
from bench.paths import cache_dir

TOKEN_FORMAT = 1  # bump when the stored layout or the token rule changes


@dataclass(frozen=True)
class DatasetTokens:
    """The tokens of every record of a dataset, with its record ids."""

    record_ids: np.ndarray
    tokens: RecordTokens

    def rows(self, record_ids: np.ndarray) -> RecordTokens:
        """The tokens of ``record_ids``, in that order (DataError naming a missing record)."""
        order = np.argsort(self.record_ids)
        positions = np.searchsorted(self.record_ids, record_ids, sorter=order)
        positions = np.clip(positions, 0, len(order) - 1)
        found = self.record_ids[order[positions]] == record_ids
        if not found.all():
            raise DataError(f"no cached tokens for records {record_ids[~found][:5].tolist()}")
        return self.tokens[order[positions]]


def token_paths(
    encoder_key: str, data: SignalSet, window: int, stride: int, steps: int
) -> tuple[Path, Path]:
    """(values, index) cache files of one encoder's tokens of ``data``."""
    key = stable_hash(
        {
            "kind": "tokens",
            "format": TOKEN_FORMAT,
            "encoder": encoder_key,
            "dataset": data.name,
            "fingerprint": data.fingerprint,
            "window": window,
            "stride": stride,
            "steps": steps,
        }
    )
    folder = cache_dir() / "tokens"
    return folder / f"{data.name}-{key}.npy", folder / f"{data.name}-{key}.index.npz"


def dataset_tokens(
    encoder: Encoder,
    encoder_key: str,
    data: SignalSet,
    window: tuple[int, int],
    steps: int,
    device: torch.device,
    batch_size: int = 256,
) -> DatasetTokens:
    """Tokens of every record of ``data`` (``window`` = (window, stride) in samples), from the
    cache or computed once and stored."""
    values_path, index_path = token_paths(encoder_key, data, *window, steps)
    if index_path.exists():
        cached = _read_cache(values_path, index_path)
        if cached is not None:
            return cached
    tokens = record_tokens(encoder, data.signals, *window, steps, device, batch_size)
    record_ids = data.meta["record_id"].to_numpy(np.int64)
    values_path.parent.mkdir(parents=True, exist_ok=True)
    write_checked(values_path, lambda handle: np.save(handle, tokens.values))
    buffer = io.BytesIO()
    np.savez(buffer, record_ids=record_ids, starts=tokens.starts, lengths=tokens.lengths)
    write_checked(index_path, lambda handle: handle.write(buffer.getvalue()))
    return DatasetTokens(record_ids, tokens)


def _read_cache(values_path: Path, index_path: Path) -> DatasetTokens | None:
    """The cached tokens; None (both files moved aside) when either is corrupt or missing."""
    try:
        verify_checked(index_path)
        verify_checked(values_path)
        with np.load(index_path, allow_pickle=False) as index:
            record_ids, starts, lengths = index["record_ids"], index["starts"], index["lengths"]
        values = np.load(values_path, mmap_mode="r", allow_pickle=False)
        if values.ndim != 2 or int((starts + lengths).max()) > len(values):
            raise CorruptFileError(f"{values_path.name} does not hold the indexed tokens")
        return DatasetTokens(record_ids, RecordTokens(values, starts, lengths))
    except (CorruptFileError, OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as error:
        for path in (index_path, values_path):
            quarantine(path, str(error).replace(str(path), path.name))
        return None
