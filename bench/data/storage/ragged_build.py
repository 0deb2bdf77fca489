"""Build a variable-length cache from a Layout: scan, describe, read in parallel, land atomically.

Steps: scan the root; drop duplicated record names (the first path in sorted order is kept);
describe every record in parallel (rate, length, metadata); choose the cache rate (the one
asked for, else the most common native rate); lay out every record's span in one flat array at
that rate; read, resample (polyphase, bench.data.preprocess) and write the records in parallel;
then assign folds and write the metadata, tables and manifest. Everything happens in a temporary
folder renamed into place at the end (bench.data.storage.cache.building), so an error or interrupt
leaves nothing behind. Bad records follow the PTB-XL policy: with "error" ONE BadRecordsError
lists them all (the source adds the command that drops them); with "skip" they are dropped and
listed in the manifest. When no record is usable, the error gives every record's reason.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from bench.data.folds import assign_folds
from bench.data.identity import global_id
from bench.data.layout import Layout, RecordInfo, RecordRef
from bench.data.storage.cache import BadRecord, BadRecordPolicy, BadRecordsError
from bench.data.storage.pool import map_chunks
from bench.data.storage.ragged_cache import META, OFFSETS, SIGNALS, write_meta
from bench.data.storage.ragged_read import (
    N_LEADS,
    ReadJob,
    describe_chunk,
    output_length,
    read_chunk,
)
from bench.errors import DataError

SHOWN_BAD_RECORDS = 10
COPY_RECORDS = 512


@dataclass(frozen=True)
class Built:
    """What a build wrote besides the files: counts for the manifest."""

    records: int
    rate: int
    skipped: list[BadRecord]
    notes: list[dict[str, str]]
    content_fingerprint: str


def build_ragged(
    layout: Layout,
    root: Path,
    folder: Path,
    rate: int | None,
    jobs: int | None,
    on_bad_record: BadRecordPolicy,
    fold_seed: int,
) -> Built:
    """Write the cache of ``root`` into the (temporary, empty) ``folder``."""
    scan = layout.scan(root)
    records = sorted(scan.records, key=lambda r: (r.name, str(r.path)))
    if not records and not scan.bad:
        raise DataError(f"no {layout.dataset} records found under {root}")
    record_ids = {record: row + 1 for row, record in enumerate(records)}
    bad = [BadRecord(0, file, reason) for file, reason in scan.bad]
    records, duplicates = _unique(records, root, record_ids)
    bad += duplicates
    described = map_chunks(
        partial(describe_chunk, layout), records, jobs, f"{layout.dataset}: headers"
    )
    good: list[tuple[RecordRef, RecordInfo]] = []
    for record, info in zip(records, described, strict=True):
        if isinstance(info, str):
            bad.append(BadRecord(record_ids[record], _file(record, root), info))
        else:
            good.append((record, info))
    total = len(scan.records) + len(scan.bad)
    if not good:
        raise DataError(
            f"no usable {layout.dataset} records under {root}\n"
            + bad_records_message(layout.dataset, root, bad, total)
        )
    rate_out = rate or _most_common_rate([info for _, info in good])
    lengths = [output_length(info.length, info.rate, rate_out) for _, info in good]
    starts = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
    array_path = folder / SIGNALS
    np.lib.format.open_memmap(
        array_path, mode="w+", dtype=np.float32, shape=(int(starts[-1]) * N_LEADS,)
    ).flush()
    jobs_list = [
        ReadJob(row, record, info.rate, int(starts[row]), lengths[row])
        for row, (record, info) in enumerate(good)
    ]
    results = map_chunks(
        partial(read_chunk, layout, array_path, rate_out),
        jobs_list,
        jobs,
        f"{layout.dataset}: signals at {rate_out} Hz",
    )
    failed = {result.row: result.error for result in results if result.error is not None}
    bad += [
        BadRecord(record_ids[good[row][0]], _file(good[row][0], root), str(reason))
        for row, reason in failed.items()
    ]
    bad.sort(key=lambda b: (b.record_id, b.file))
    if bad and on_bad_record == "error":
        raise BadRecordsError(bad_records_message(layout.dataset, root, bad, total))
    keep = [row for row in range(len(good)) if row not in failed]
    if not keep:
        raise DataError(
            f"no usable {layout.dataset} records under {root}\n"
            + bad_records_message(layout.dataset, root, bad, total)
        )
    if len(keep) < len(good):
        _compact(array_path, starts, keep)
    kept = [good[row] for row in keep]
    offsets = np.concatenate([[0], np.cumsum([lengths[row] for row in keep], dtype=np.int64)])
    np.save(folder / OFFSETS, offsets.astype(np.int64))
    ids = [record_ids[record] for record, _ in kept]
    meta = _meta(layout.dataset, kept, ids, [lengths[r] for r in keep], fold_seed, root)
    meta["signal_fingerprint"] = [results[row].fingerprint for row in keep]
    write_meta(meta, folder / META)
    tables = _annotation_table(kept, ids, rate_out)
    if tables is not None:
        tables.to_csv(folder / "annotations.csv", index=False)
    digest = hashlib.sha256(json.dumps([rate_out, N_LEADS, fold_seed]).encode())
    digest.update(b"".join(results[row].digest for row in keep))
    for name in (META, "annotations.csv"):
        if (folder / name).is_file():
            digest.update((folder / name).read_bytes())
    notes = [{"record": r.name, "note": i.note} for r, i in kept if i.note]
    return Built(len(kept), rate_out, bad, notes, digest.hexdigest()[:16])


def bad_records_message(dataset: str, root: Path, bad: list[BadRecord], total: int) -> str:
    """One message listing the first bad records (id, file, reason) and how many in all."""
    lines = [f"{len(bad)} of {total} {dataset} records under {root} are bad:"]
    lines += [f"  {b.file}: {b.reason}" for b in bad[:SHOWN_BAD_RECORDS]]
    if len(bad) > SHOWN_BAD_RECORDS:
        lines.append(f"  ... and {len(bad) - SHOWN_BAD_RECORDS} more")
    return "\n".join(lines)


def _file(record: RecordRef, root: Path) -> str:
    try:
        return str(record.path.relative_to(root))
    except ValueError:
        return str(record.path)


def _unique(
    records: list[RecordRef], root: Path, record_ids: dict[RecordRef, int]
) -> tuple[list[RecordRef], list[BadRecord]]:
    """Records with a unique name; later duplicates become bad records naming the first."""
    first: dict[str, RecordRef] = {}
    unique, bad = [], []
    for record in records:
        if record.name in first:
            kept = first[record.name]
            reason = (
                f"duplicate record name {record.name}: also at {_file(kept, root)} "
                f"(source {kept.source}), which is kept"
            )
            bad.append(BadRecord(record_ids[record], _file(record, root), reason))
        else:
            first[record.name] = record
            unique.append(record)
    return unique, bad


def _most_common_rate(infos: list[RecordInfo]) -> int:
    rate = Counter(info.rate for info in infos).most_common(1)[0][0]
    return round(rate)


def _compact(array_path: Path, starts: np.ndarray, keep: list[int]) -> None:
    """Rewrite the flat array with only the records in ``keep`` (in order)."""
    source = np.load(array_path, mmap_mode="r")
    total = int(sum(starts[row + 1] - starts[row] for row in keep)) * N_LEADS
    compact_path = array_path.with_name("signals.compact.npy")
    target = np.lib.format.open_memmap(compact_path, mode="w+", dtype=np.float32, shape=(total,))
    position = 0
    for row in keep:
        span = source[int(starts[row]) * N_LEADS : int(starts[row + 1]) * N_LEADS]
        target[position : position + len(span)] = span
        position += len(span)
    target.flush()
    del source, target
    compact_path.replace(array_path)


def _meta(
    dataset: str,
    kept: list[tuple[RecordRef, RecordInfo]],
    ids: list[int],
    lengths: list[int],
    fold_seed: int,
    root: Path,
) -> pd.DataFrame:
    patients = [info.patient or f"record:{rid}" for (_, info), rid in zip(kept, ids, strict=True)]
    patient_numbers = {p: i + 1 for i, p in enumerate(dict.fromkeys(patients))}
    labels = [info.labels for _, info in kept]
    return pd.DataFrame(
        {
            "record_id": np.asarray(ids, dtype=np.int64),
            "record": [record.name for record, _ in kept],
            "patient_id": np.asarray([patient_numbers[p] for p in patients], dtype=np.int64),
            "fold": assign_folds(labels, patients, fold_seed),
            "source": [record.source for record, _ in kept],
            "global_id": [global_id(dataset, record.name) for record, _ in kept],
            "aliases": [info.aliases for _, info in kept],
            "age": [info.age for _, info in kept],
            "sex": [info.sex for _, info in kept],
            "labels": labels,
            "native_rate": [info.rate for _, info in kept],
            "length": np.asarray(lengths, dtype=np.int64),
            "file": [_file(record, root) for record, _ in kept],
            "note": [info.note for _, info in kept],
        }
    )


def _annotation_table(
    kept: list[tuple[RecordRef, RecordInfo]], ids: list[int], rate_out: int
) -> pd.DataFrame | None:
    """Wave annotations of every record at the cache rate (None if the layout has none)."""
    rows = [
        (rid, lead, wave, *(_scale(s, info.rate, rate_out) for s in samples))
        for (_, info), rid in zip(kept, ids, strict=True)
        for lead, wave, *samples in info.annotations
    ]
    if not rows:
        return None
    columns = ["record_id", "lead", "wave", "onset", "peak", "offset"]
    return pd.DataFrame(rows, columns=columns)


def _scale(sample: int, rate: float, rate_out: int) -> int:
    return -1 if sample < 0 else round(sample * rate_out / rate)
