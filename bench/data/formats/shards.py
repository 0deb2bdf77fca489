"""Sharded compact caches: records in int16 or float16 shards with a recorded scale, read
through memory maps as a sequence of float32 [leads, T] records.

On disk (``<cache>/<dataset>/<rate>hz-<fingerprint[:16]>/``): ``shard-NNNNN.npy`` (1-D, int16
or float16, record-major: each record's leads contiguous, as ``bench.data.formats.ragged``),
``shard-NNNNN.scales.npy`` (float32 [records in the shard, leads]), ``shard-NNNNN.json`` (the
shard's records and checksums), ``index.npy`` (int64 [N, 4]: shard, row in the shard, first
sample in the shard, length), ``meta.csv`` and ``manifest.json`` (``"layout": "sharded"``).

Codec (per record and lead, scale s recorded; x the float32 signal in mV, p = max |x|):
- int16: s = p / 32767, stored q = round(x / s); decoded q * s. Error |x - q s| <= s / 2 =
  p / 65534 (0.0015 % of the lead's peak), plus float32 rounding.
- float16: s = p, stored v = float16(x / s); decoded v * s. Error <= 2^-11 |x| + 2^-25 s
  (float16 round-to-nearest), plus float32 rounding.
A lead of all zeros gets s = 1 and decodes to exact zeros.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from bench.data.formats.ragged import Ragged

LAYOUT = "sharded"
SHARD_FORMAT = 1
Storage = Literal["int16", "float16"]
STORAGES: tuple[str, ...] = ("int16", "float16")
INT16_MAX = 32767
INDEX = "index.npy"


def shard_name(index: int) -> str:
    """File stem of shard ``index``."""
    return f"shard-{index:05d}"


def error_bound(signals: np.ndarray, scales: np.ndarray, storage: Storage) -> np.ndarray:
    """The documented worst-case absolute error of every sample ([leads, T], see module doc)."""
    scale = scales[:, None].astype(np.float64)
    if storage == "int16":
        bound = np.broadcast_to(scale / 2, signals.shape)
    else:
        bound = np.abs(signals) * 2.0**-11 + scale * 2.0**-25
    return bound + np.abs(signals) * 2.0**-23  # float32 rounding of the decode


def encode(signals: np.ndarray, storage: Storage) -> tuple[np.ndarray, np.ndarray]:
    """``signals`` float32 [leads, T] as (stored [leads, T], scales float32 [leads])."""
    peak = np.max(np.abs(signals), axis=1) if signals.shape[1] else np.zeros(len(signals))
    peak = peak.astype(np.float64)
    if storage == "int16":
        scales = np.where(peak > 0, peak / INT16_MAX, 1.0)
        stored = np.rint(signals / scales[:, None]).clip(-INT16_MAX, INT16_MAX).astype(np.int16)
    else:
        scales = np.where(peak > 0, peak, 1.0)
        stored = (signals / scales[:, None]).astype(np.float16)
    return stored, scales.astype(np.float32)


def decode(stored: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """Float32 signals [..., leads, T] from stored values and their scales [..., leads]."""
    return stored.astype(np.float32) * scales[..., None]


class ShardedRecords:
    """A read-only sequence of float32 [leads, T_i] records kept in memory-mapped shards.

    ``view[i]`` decodes record i; ``view[rows]`` (array, list or slice) is a lazy sub-view;
    ``crops`` decodes only the asked spans; ``union`` joins views of several caches (each
    index row's ``parts`` entry names its folder). Memory maps open on first use and are not
    pickled (a worker process reopens them), so views travel cheaply to DataLoader workers.
    """

    def __init__(
        self,
        folder: Path | Sequence[Path],
        index: np.ndarray,
        n_leads: int,
        storage: Storage,
        rows: np.ndarray | None = None,
        parts: np.ndarray | None = None,
    ):
        if isinstance(folder, (str, os.PathLike)):
            self.folders: tuple[Path, ...] = (Path(folder),)
        else:
            self.folders = tuple(Path(f) for f in folder)
        self.index = index
        self.parts = np.zeros(len(index), np.int64) if parts is None else parts
        self.n_leads = n_leads
        self.storage: Storage = storage
        self.rows = np.arange(len(index)) if rows is None else np.asarray(rows, dtype=np.int64)
        self._shards: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    @classmethod
    def union(cls, views: Sequence[ShardedRecords]) -> ShardedRecords:
        """One view of the records of ``views`` (each its own rows, in order), still on disk:
        a corpus of several sharded datasets streams like one. ``storage`` is the first's."""
        if not views or len({view.n_leads for view in views}) != 1:
            raise ValueError("a union needs one or more views with the same number of leads")
        folders: list[Path] = []
        index, parts = [], []
        for view in views:
            index.append(view.index[view.rows])
            parts.append(view.parts[view.rows] + len(folders))
            folders += view.folders
        first = views[0]
        merged, owners = np.concatenate(index), np.concatenate(parts)
        return cls(folders, merged, first.n_leads, first.storage, None, owners)

    @property
    def folder(self) -> Path:
        """The (first) cache folder the records live in."""
        return self.folders[0]

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_shards"] = {}
        return state

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def lengths(self) -> np.ndarray:
        """Samples of every record (int64 [N])."""
        return self.index[self.rows, 3]

    @property
    def shape(self) -> tuple[int, int, int]:
        """(records, leads, longest length), as ``Ragged.shape``."""
        longest = int(self.lengths.max()) if len(self) else 0
        return (len(self), self.n_leads, longest)

    @property
    def nbytes(self) -> int:
        """Bytes of the records decoded to float32 (what would sit in memory)."""
        return int(self.lengths.sum()) * self.n_leads * 4

    @property
    def stored_nbytes(self) -> int:
        """Bytes of the stored samples of these records."""
        return int(self.lengths.sum()) * self.n_leads * 2

    def release(self) -> None:
        """Close the memory maps opened so far (their pages then leave this process's RSS)."""
        self._shards.clear()

    def _shard(self, part: int, shard: int) -> tuple[np.ndarray, np.ndarray]:
        if (part, shard) not in self._shards:
            stem = self.folders[part] / shard_name(shard)
            flat = np.load(stem.with_suffix(".npy"), mmap_mode="r")
            scales = np.load(stem.with_name(stem.name + ".scales.npy"))
            self._shards[part, shard] = (flat, scales)
        return self._shards[part, shard]

    def _locate(self, item: int) -> tuple[np.ndarray, int, int, np.ndarray]:
        """(shard flat array, first sample, length, scales [leads]) of record ``item``."""
        row = int(self.rows[item])
        shard, local, start, length = (int(v) for v in self.index[row])
        flat, scales = self._shard(int(self.parts[row]), shard)
        return flat, start, length, scales[local]

    def record(self, item: int) -> np.ndarray:
        """Record ``item`` decoded to float32 [leads, T]."""
        flat, start, length, scales = self._locate(item)
        span = flat[start * self.n_leads : (start + length) * self.n_leads]
        return decode(np.asarray(span).reshape(self.n_leads, length), scales)

    def crop(self, item: int, offset: int, length: int) -> np.ndarray:
        """Samples ``offset``..``offset + length`` of record ``item``, float32 [leads, length]."""
        flat, start, total, scales = self._locate(item)
        if offset < 0 or offset + length > total:
            raise IndexError(f"crop {offset}+{length} outside record {item} of {total} samples")
        base = start * self.n_leads
        span = np.asarray(flat[base : base + total * self.n_leads]).reshape(self.n_leads, total)
        return decode(span[:, offset : offset + length], scales)

    def crops(self, items: np.ndarray, offsets: np.ndarray, length: int) -> np.ndarray:
        """Crops of records ``items`` at ``offsets``: float32 [len(items), leads, length]."""
        out = np.empty((len(items), self.n_leads, length), dtype=np.float32)
        for slot, (item, offset) in enumerate(zip(items, offsets, strict=True)):
            out[slot] = self.crop(int(item), int(offset), length)
        return out

    def __getitem__(self, key: int | np.integer | np.ndarray | list[int] | slice) -> Any:
        if isinstance(key, (int, np.integer)):
            return self.record(int(key))
        picked = self.rows[key]
        return ShardedRecords(
            self.folders, self.index, self.n_leads, self.storage, picked, self.parts
        )

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self.record(i) for i in range(len(self)))

    def to_memory(self) -> np.ndarray | Ragged:
        """Every record decoded into memory: [N, leads, T] when all share a length, else Ragged."""
        ragged = Ragged.from_records([self.record(i) for i in range(len(self))], self.n_leads)
        array = ragged.as_array()
        return array if array is not None else ragged


def read_shard_json(path: Path) -> dict[str, Any] | None:
    """A shard's description, or None when it is absent or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def open_records(folder: Path, manifest: dict[str, Any]) -> ShardedRecords:
    """The records of the landed sharded cache in ``folder``."""
    index = np.load(folder / INDEX)
    if index.ndim != 2 or index.shape[1] != 4 or len(index) != manifest["records"]:
        raise ValueError(f"{folder / INDEX} has shape {index.shape}; {manifest['records']} rows")
    return ShardedRecords(folder, index, len(manifest["lead_names"]), manifest["storage"])


def write_records(
    folder: Path,
    records: Iterable[np.ndarray],
    storage: Storage = "int16",
    shard_records: int = 1024,
) -> ShardedRecords:
    """Encode float32 [leads, T_i] ``records`` into shards of ``shard_records`` records under
    ``folder`` (shard data, scales and ``index.npy``; no metadata) and open them. For corpora
    made in code (tests, benchmarks); datasets are built by bench.data.storage.shards_build."""
    folder.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[int, int, int, int]] = []
    n_leads = 0

    def flush(shard: int, stored: list[np.ndarray], scales: list[np.ndarray]) -> None:
        stem = folder / shard_name(shard)
        np.save(stem.with_suffix(".npy"), np.concatenate([s.ravel() for s in stored]))
        np.save(stem.with_name(stem.name + ".scales.npy"), np.stack(scales))

    stored: list[np.ndarray] = []
    scales: list[np.ndarray] = []
    start = 0
    for record in records:
        values, record_scales = encode(np.asarray(record, np.float32), storage)
        n_leads = values.shape[0]
        rows.append((len(rows) // shard_records, len(stored), start, values.shape[1]))
        stored.append(values)
        scales.append(record_scales)
        start += values.shape[1]
        if len(stored) == shard_records:
            flush(rows[-1][0], stored, scales)
            stored, scales, start = [], [], 0
    if stored:
        flush(rows[-1][0], stored, scales)
    index = np.asarray(rows, dtype=np.int64).reshape(-1, 4)
    np.save(folder / INDEX, index)
    return ShardedRecords(folder, index, n_leads, storage)
