"""Worker side of a variable-length build: describe records, then read, resample and write
them straight into their place in the flat memory-mapped array.

Only small results travel back to the parent: infos or reasons, digests and fingerprints.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from bench.data.identity import signal_fingerprint
from bench.data.layout import Layout, RecordError, RecordInfo, RecordRef
from bench.data.preprocess import resample

N_LEADS = 12


@dataclass(frozen=True)
class ReadJob:
    """Read ``record`` (native ``rate``) into samples ``start``..``start + length`` of the
    flat array at ``rate_out`` Hz; ``row`` is its position in the cache."""

    row: int
    record: RecordRef
    rate: float
    start: int
    length: int


@dataclass(frozen=True)
class ReadResult:
    """Per job: the reason it failed (None if fine), a digest and a fingerprint."""

    row: int
    error: str | None
    digest: bytes = b""
    fingerprint: str = ""


def describe_chunk(layout: Layout, records: Sequence[RecordRef]) -> list[RecordInfo | str]:
    """``layout.describe`` of each record, or the reason it is bad."""
    results: list[RecordInfo | str] = []
    for record in records:
        try:
            results.append(layout.describe(record))
        except RecordError as error:
            results.append(str(error))
    return results


def output_length(length: int, rate: float, rate_out: int) -> int:
    """Samples of a ``length``-sample record after resampling from ``rate`` to ``rate_out``."""
    if rate == rate_out:
        return length
    ratio = Fraction(rate_out, int(rate))
    return -(-length * ratio.numerator // ratio.denominator)  # scipy's resample_poly length


def read_chunk(
    layout: Layout, array_path: Path, rate_out: int, jobs: Sequence[ReadJob]
) -> list[ReadResult]:
    """Read every job's record into its span of the flat array."""
    flat = np.load(array_path, mmap_mode="r+")
    results: list[ReadResult] = []
    try:
        for job in jobs:
            try:
                signals = _read_one(layout, job, rate_out)
            except RecordError as error:
                results.append(ReadResult(job.row, str(error)))
                continue
            flat[job.start * N_LEADS : (job.start + job.length) * N_LEADS] = signals.ravel()
            digest = hashlib.blake2b(signals.tobytes(), digest_size=16).digest()
            results.append(ReadResult(job.row, None, digest, signal_fingerprint(signals, rate_out)))
        flat.flush()
    finally:
        del flat
    return results


def _read_one(layout: Layout, job: ReadJob, rate_out: int) -> np.ndarray:
    signals = layout.read(job.record)
    if signals.shape[0] != N_LEADS:
        raise RecordError(f"{job.record.name}: {signals.shape[0]} leads read, expected 12")
    if job.rate != rate_out:
        if job.rate != int(job.rate):
            raise RecordError(f"{job.record.name}: fractional rate {job.rate} Hz")
        signals = resample(signals[None], int(job.rate), rate_out, "poly")[0]
    if signals.shape[1] != job.length:
        raise RecordError(
            f"{job.record.name}: {signals.shape[1]} samples read, its header says "
            f"{job.length} at {rate_out} Hz"
        )
    return np.ascontiguousarray(signals, dtype=np.float32)
