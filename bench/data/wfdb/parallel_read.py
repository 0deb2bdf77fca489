"""Read many WFDB records in parallel straight into one memory-mapped .npy array.

Workers open the array themselves (mode r+) and write their rows; only per-record errors and
small digests travel back, never signal arrays.
"""

from __future__ import annotations

import hashlib
import math
import os
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from bench.data.layout import RecordError
from bench.data.wfdb.records import RecordSpec, read_record

MAX_CHUNK = 256
ChunkResult = tuple[int, str | None, bytes]  # (row, error or None, digest)


@dataclass(frozen=True)
class RecordJob:
    """Read record ``path`` (no extension) into row ``row`` of the array."""

    row: int
    path: Path


@dataclass(frozen=True)
class ReadOutcome:
    """Per row: the reason it failed (rows that read fine are absent) and a digest of its
    float32 bytes (empty for failed rows)."""

    errors: dict[int, str]
    digests: list[bytes]


def default_jobs() -> int:
    """Worker processes used when none are asked for: every CPU core."""
    return os.cpu_count() or 1


def read_records(
    array_path: Path,
    records: Sequence[RecordJob],
    spec: RecordSpec,
    jobs: int | None = None,
    desc: str = "reading records",
) -> ReadOutcome:
    """Fill ``array_path`` (an existing .npy of shape [>= rows, leads, length]) from ``records``
    with ``jobs`` processes (1 = in this process), showing a progress bar on a terminal."""
    jobs = max(1, jobs or default_jobs())
    size = max(1, min(MAX_CHUNK, math.ceil(len(records) / (jobs * 8))))
    chunks = [list(records[i : i + size]) for i in range(0, len(records), size)]
    digests = [b""] * (max((r.row for r in records), default=-1) + 1)
    errors: dict[int, str] = {}
    with tqdm(total=len(records), desc=desc, unit="rec", disable=None) as bar:

        def collect(results: list[ChunkResult]) -> None:
            for row, error, digest in results:
                digests[row] = digest
                if error is not None:
                    errors[row] = error
            bar.update(len(results))

        if jobs == 1 or len(chunks) <= 1:
            for chunk in chunks:
                collect(read_chunk(array_path, chunk, spec))
        else:
            _read_in_pool(array_path, chunks, spec, jobs, collect)
    return ReadOutcome(errors=errors, digests=digests)


def _read_in_pool(
    array_path: Path,
    chunks: list[list[RecordJob]],
    spec: RecordSpec,
    jobs: int,
    collect: Callable[[list[ChunkResult]], None],
) -> None:
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(chunks)), initializer=_ignore_interrupts)
    try:
        futures: list[Future[list[ChunkResult]]] = [
            pool.submit(read_chunk, array_path, chunk, spec) for chunk in chunks
        ]
        for future in as_completed(futures):
            collect(future.result())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _ignore_interrupts() -> None:
    """Workers leave Ctrl-C to the parent, which cancels what is queued and cleans up."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def read_chunk(array_path: Path, chunk: Sequence[RecordJob], spec: RecordSpec) -> list[ChunkResult]:
    """Read ``chunk`` into its rows of the array; (row, error or None, digest) per record."""
    array = np.load(array_path, mmap_mode="r+")
    results: list[ChunkResult] = []
    try:
        for record in chunk:
            try:
                signals = read_record(record.path, spec)
            except RecordError as error:
                results.append((record.row, str(error), b""))
                continue
            array[record.row] = signals
            digest = hashlib.blake2b(signals.tobytes(), digest_size=16).digest()
            results.append((record.row, None, digest))
        array.flush()
    finally:
        del array
    return results
