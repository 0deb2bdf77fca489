"""Cross-dataset identity of records: global ids and signal fingerprints.

A global id is ``"<dataset>:<record>"``; a record may also carry aliases, the global ids of the
same ECG in other datasets (CinC's HR00001 -> "ptbxl:1", A0001 -> "cpsc2018:A0001"; these
mappings are documented assumptions, confirmed by fingerprint). The signal fingerprint hashes
the means of 0.1-s blocks over the first 5 s of all 12 leads, quantised to 0.05 mV: the same
samples at the same rate always give the same fingerprint, whatever dataset they came from.
Records resampled along different paths (e.g. PTB-XL's own 100 Hz files vs CinC's 500 Hz
records resampled here) can differ by a quantisation step, so compare caches prepared at the
same rate from the same native rate.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

FINGERPRINT_VERSION = 1
BLOCK_SECONDS = 0.1
EXCERPT_SECONDS = 5.0
QUANTUM_MV = 0.05


def global_id(dataset: str, record: str | int) -> str:
    """The stable id of a record across datasets."""
    return f"{dataset}:{record}"


def signal_fingerprint(signals: np.ndarray, rate: float) -> str:
    """16 hex digits identifying the start of ``signals`` ([leads, T] in mV at ``rate`` Hz)."""
    n = min(signals.shape[-1], round(EXCERPT_SECONDS * rate))
    blocks = np.floor(np.arange(n) / (BLOCK_SECONDS * rate)).astype(np.int64)
    starts = np.flatnonzero(np.diff(blocks, prepend=-1))
    sums = np.add.reduceat(np.asarray(signals[:, :n], np.float64), starts, axis=1)
    means = sums / np.diff(np.append(starts, n))
    quantised = np.round(means / QUANTUM_MV).astype(np.int32)
    digest = hashlib.blake2b(digest_size=8)
    digest.update(f"v{FINGERPRINT_VERSION}:{quantised.shape}".encode())
    digest.update(quantised.tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class Overlap:
    """How many records of A and B are the same ECG, by id mapping and by fingerprint."""

    records_a: int
    records_b: int
    by_id: int
    by_fingerprint: int
    both: int
    examples: tuple[tuple[str, str], ...]


def overlap(
    ids_a: list[set[str]], prints_a: list[str], ids_b: list[set[str]], prints_b: list[str]
) -> Overlap:
    """Records of A sharing an id (global id or alias) with B, or a fingerprint with B."""
    id_owner: dict[str, int] = {}
    for row, ids in enumerate(ids_b):
        for ident in ids:
            id_owner.setdefault(ident, row)
    print_owner: dict[str, int] = {}
    for row, value in enumerate(prints_b):
        print_owner.setdefault(value, row)
    by_id = by_print = both = 0
    examples: list[tuple[str, str]] = []
    for ids, value in zip(ids_a, prints_a, strict=True):
        id_match = next((id_owner[i] for i in sorted(ids) if i in id_owner), None)
        print_match = print_owner.get(value)
        by_id += id_match is not None
        by_print += print_match is not None
        both += id_match is not None and id_match == print_match
        if print_match is not None and len(examples) < 5:
            examples.append((min(ids), min(ids_b[print_match])))
    return Overlap(len(ids_a), len(ids_b), by_id, by_print, both, tuple(examples))
