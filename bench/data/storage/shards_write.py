"""Worker side of a sharded build: read one shard's records, apply the quality policy, resample,
encode (bench.data.formats.shards codec) and land the shard's files atomically.

Quality policy (skip and report, whatever ``--skip-bad-records`` says): a record holding NaN or
infinite samples, or a flat lead (peak-to-peak below ``FLAT_PTP_MV`` over the whole record, e.g.
a disconnected electrode), is dropped; the reason is counted per kind and listed in the
manifest. Records that cannot be read at all (missing or truncated files, unknown leads) are
bad records and follow the bad-record policy instead.

A layout may read many records at once (``read_many(records)`` yielding (record, signals or
reason), e.g. contiguous HDF5 rows); otherwise ``read`` is called per record. A shard's JSON is
written last, so a shard counts as finished only when its data, scales and checksums landed.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.atomic import atomic_write, file_sha256
from bench.data.formats.shards import SHARD_FORMAT, Storage, encode, shard_name
from bench.data.identity import signal_fingerprint
from bench.data.layout import Layout, RecordError, RecordInfo, RecordRef
from bench.data.preprocess import resample
from bench.data.signals import CANONICAL_LEADS

FLAT_PTP_MV = 0.01
"""A lead whose peak-to-peak amplitude over the record is below this (mV) is flat."""


@dataclass(frozen=True)
class ShardJob:
    """Shard ``index``: its records (with their ids) in order, the rate and storage to write."""

    index: int
    records: tuple[tuple[RecordRef, RecordInfo, int], ...]
    rate_out: int
    storage: Storage
    folder: Path
    root: Path

    def digest(self) -> str:
        """What the shard must hold: its records, rate, storage and format."""
        names = [f"{ref.name}\t{ref.path}\t{rid}" for ref, _, rid in self.records]
        blob = json.dumps([SHARD_FORMAT, self.rate_out, self.storage, names]).encode()
        return hashlib.sha256(blob).hexdigest()


def record_file(record: RecordRef, root: Path) -> str:
    """How a record is named in reports: its path under the root (+ its name if the file
    holds many records)."""
    try:
        relative = str(record.path.relative_to(root))
    except ValueError:
        relative = str(record.path)
    return relative if record.path.name == record.name else f"{relative} [{record.name}]"


def quality_problem(signals: np.ndarray) -> tuple[str, str] | None:
    """(kind, reason) when the record is dropped by the quality policy, else None."""
    if signals.shape[1] == 0:
        return "empty", "no samples (an all-zero tracing)"
    bad = int(np.count_nonzero(~np.isfinite(signals)))
    if bad:
        return "nan", f"{bad} NaN or infinite samples"
    ptp = np.ptp(signals, axis=1)
    flat = [CANONICAL_LEADS[i] for i in np.flatnonzero(ptp < FLAT_PTP_MV)]
    if flat:
        return "flat", f"flat lead(s) {', '.join(flat)} (peak-to-peak < {FLAT_PTP_MV} mV)"
    return None


def read_all(
    layout: Layout, records: Sequence[RecordRef]
) -> Iterator[tuple[RecordRef, np.ndarray | str]]:
    """(record, float32 [12, T] at the native rate, or the reason it cannot be read)."""
    many = getattr(layout, "read_many", None)
    if many is not None:
        yield from many(records)
        return
    for record in records:
        try:
            yield record, layout.read(record)
        except RecordError as error:
            yield record, str(error)


def write_shards(layout: Layout, jobs: Sequence[ShardJob]) -> list[dict[str, Any]]:
    """``write_shard`` of every job (a chunk handed to one worker)."""
    return [write_shard(layout, job) for job in jobs]


def write_shard(layout: Layout, job: ShardJob) -> dict[str, Any]:
    """Read, check, encode and land shard ``job``; returns its description (also its JSON)."""
    refs = [ref for ref, _, _ in job.records]
    by_ref = {ref: (info, rid) for ref, info, rid in job.records}
    stored: list[np.ndarray] = []
    scales: list[np.ndarray] = []
    kept: list[dict[str, Any]] = []
    dropped: list[dict[str, Any]] = []
    bad: list[dict[str, Any]] = []
    start = 0
    for ref, signals in read_all(layout, refs):
        info, rid = by_ref[ref]
        file = record_file(ref, job.root)
        if isinstance(signals, str):
            bad.append({"record_id": rid, "file": file, "reason": signals})
            continue
        problem = quality_problem(signals)
        if problem is not None:
            dropped.append(
                {"record_id": rid, "file": file, "kind": problem[0], "reason": problem[1]}
            )
            continue
        try:
            signals = _at_rate(signals, info.rate, job.rate_out, ref.name)
        except RecordError as error:
            bad.append({"record_id": rid, "file": file, "reason": str(error)})
            continue
        values, record_scales = encode(signals, job.storage)
        digest = hashlib.blake2b(values.tobytes() + record_scales.tobytes(), digest_size=16)
        stored.append(values.ravel())
        scales.append(record_scales)
        length = signals.shape[1]
        kept.append(
            {
                "record_id": rid,
                "start": start,
                "length": length,
                "digest": digest.hexdigest(),
                "fingerprint": signal_fingerprint(signals, job.rate_out),
            }
        )
        start += length
    dtype = np.int16 if job.storage == "int16" else np.float16
    flat = np.concatenate(stored) if stored else np.zeros(0, dtype)
    table = np.stack(scales) if scales else np.zeros((0, len(CANONICAL_LEADS)), np.float32)
    stem = job.folder / shard_name(job.index)
    data_path = stem.with_suffix(".npy")
    scales_path = stem.with_name(stem.name + ".scales.npy")
    atomic_write(data_path, lambda handle: np.save(handle, flat))
    atomic_write(scales_path, lambda handle: np.save(handle, table))
    description = {
        "index": job.index,
        "job": job.digest(),
        "storage": job.storage,
        "records": kept,
        "dropped": dropped,
        "bad": bad,
        "files": {
            path.name: {"size": path.stat().st_size, "sha256": file_sha256(path)}
            for path in (data_path, scales_path)
        },
    }
    blob = json.dumps(description, indent=0).encode()
    atomic_write(stem.with_suffix(".json"), lambda handle: handle.write(blob))
    return description


def shard_holds(folder: Path, job: ShardJob, description: dict[str, Any] | None) -> bool:
    """Whether the finished shard in ``folder`` is ``job``'s and its files match their sums."""
    if description is None or description.get("job") != job.digest():
        return False
    for name, entry in description.get("files", {}).items():
        path = folder / name
        if not path.is_file() or path.stat().st_size != entry["size"]:
            return False
        if file_sha256(path) != entry["sha256"]:
            return False
    return True


def _at_rate(signals: np.ndarray, rate: float, rate_out: int, name: str) -> np.ndarray:
    if signals.shape[0] != len(CANONICAL_LEADS):
        raise RecordError(f"{name}: {signals.shape[0]} leads read, expected 12")
    if rate != rate_out:
        if rate != int(rate):
            raise RecordError(f"{name}: fractional rate {rate} Hz")
        signals = resample(np.asarray(signals, np.float32)[None], int(rate), rate_out, "poly")[0]
    return np.ascontiguousarray(signals, dtype=np.float32)


def remove_shard(folder: Path, index: int) -> None:
    """Delete whatever of shard ``index`` exists (before it is rewritten)."""
    stem = shard_name(index)
    for name in (f"{stem}.json", f"{stem}.npy", f"{stem}.scales.npy"):
        path = folder / name
        if path.exists():
            os.unlink(path)
