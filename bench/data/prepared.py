"""Find and open a dataset's landed cache without its source (``bench data info`` and
``overlap``), and the identities (global ids, aliases, fingerprints) of its records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.data.formats.ragged import Ragged
from bench.data.formats.shards import LAYOUT as SHARDED
from bench.data.identity import global_id, signal_fingerprint
from bench.data.signals import SignalSet
from bench.data.storage.cache import BadRecord, read_manifest
from bench.data.storage.ragged_cache import LAYOUT, open_ragged
from bench.errors import DataError


def find_cache(cache: Path, dataset: str, rate: int | None) -> Path:
    """The newest landed cache of ``dataset`` (at ``rate`` Hz when given)."""
    folder = cache / dataset
    candidates = [
        path
        for path in (folder.iterdir() if folder.is_dir() else [])
        if path.is_dir() and not path.name.startswith(".") and read_manifest(path) is not None
    ]
    if rate is not None:
        candidates = [path for path in candidates if path.name.startswith(f"{rate}hz-")]
    if not candidates:
        at = f" at {rate} Hz" if rate is not None else ""
        raise DataError(
            f"no prepared {dataset} cache{at} under {cache}; run: bench data prepare {dataset}"
            + (f" --rate {rate}" if rate is not None else "")
        )
    return max(candidates, key=lambda path: path.stat().st_mtime_ns)


def open_cache(folder: Path) -> tuple[SignalSet, dict[str, Any], tuple[BadRecord, ...]]:
    """The cache in ``folder``, its manifest and the records skipped when it was built."""
    manifest = read_manifest(folder)
    if manifest is None:
        raise DataError(f"cache {folder} has no readable manifest")
    if manifest.get("layout") == LAYOUT:
        data, manifest = open_ragged(folder)
    elif manifest.get("layout") == SHARDED:
        from bench.data.storage.shards_source import open_sharded

        data, manifest = open_sharded(folder)
    elif manifest.get("dataset") == "ptbxl":
        from bench.data.sources.ptbxl import open_cache as open_ptbxl

        data, manifest = open_ptbxl(folder)
    else:
        raise DataError(f"cache {folder} is of an unknown kind")
    return data, manifest, tuple(BadRecord(**bad) for bad in manifest["skipped"])


def identities(data: SignalSet) -> tuple[list[set[str]], list[str]]:
    """Every record's ids (global id and aliases) and signal fingerprint, in row order.

    Caches built before fingerprints existed (PTB-XL) get them computed here.
    """
    meta = data.meta
    if "global_id" in meta:
        ids = [
            {gid, *aliases} for gid, aliases in zip(meta["global_id"], meta["aliases"], strict=True)
        ]
    else:
        ids = [{global_id(data.name, record)} for record in meta["record_id"]]
    if "signal_fingerprint" in meta:
        return ids, list(meta["signal_fingerprint"])
    records = data.signals if isinstance(data.signals, Ragged) else list(data.signals)
    return ids, [signal_fingerprint(record, data.sampling_rate) for record in records]
