"""Build a sharded cache from a Layout in bounded memory, resumably.

Steps: scan (in the layout's own, deterministic order), drop duplicated names, describe every
record in parallel, plan shards of about ``shard_mb`` MB of stored samples from the described
lengths, then write the shards in parallel worker processes (bench.data.storage.shards_write), each
holding one shard in memory at a time. Shards are written into ``.partial-<final name>/``
beside the final folder; a kill keeps every finished shard there, and the next build with the
same source fingerprint checks each finished shard (its job and the SHA-256 of its files) and
continues with the shards still missing. Once every shard is there, the folds, metadata, index,
manifest and checksums are written and the folder is renamed into place. A bad-record verdict
(policy "error") is final: the partial folder is removed and nothing is left behind.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.atomic import file_sha256
from bench.data.folds import assign_folds
from bench.data.formats.shards import INDEX, Storage, read_shard_json, shard_name
from bench.data.identity import global_id
from bench.data.layout import Layout, RecordInfo, RecordRef
from bench.data.storage.cache import (
    BadRecord,
    BadRecordPolicy,
    BadRecordsError,
    make_folder,
    remove_empty,
)
from bench.data.storage.checksums import CHECKSUMS
from bench.data.storage.pool import map_chunks
from bench.data.storage.ragged_build import bad_records_message
from bench.data.storage.ragged_cache import META, write_meta
from bench.data.storage.ragged_read import N_LEADS, describe_chunk, output_length
from bench.data.storage.shards_write import (
    ShardJob,
    record_file,
    remove_shard,
    shard_holds,
    write_shards,
)
from bench.errors import DataError

log = logging.getLogger(__name__)

PARTIAL_PREFIX = ".partial-"
DEFAULT_SHARD_MB = 128.0
STORED_BYTES = 2  # int16 and float16


@dataclass(frozen=True)
class ShardedBuilt:
    """What a sharded build found and wrote (for the manifest and the prepare summary)."""

    records: int
    rate: int
    shards: int
    resumed_shards: int
    skipped: list[BadRecord]
    dropped: list[dict[str, Any]]
    content_fingerprint: str
    notes: list[dict[str, str]] = field(default_factory=list)


def partial_folder(final: Path) -> Path:
    """Where the shards of ``final`` are written until it lands."""
    return final.parent / f"{PARTIAL_PREFIX}{final.name}"


def build_sharded(
    layout: Layout,
    root: Path,
    final: Path,
    rate: int | None,
    jobs: int | None,
    on_bad_record: BadRecordPolicy,
    fold_seed: int,
    storage: Storage,
    shard_mb: float,
) -> tuple[Path, ShardedBuilt]:
    """Write (or finish) every shard of ``root`` into the partial folder of ``final``, plus its
    index and metadata; returns that folder (the caller adds the manifest, then ``land``)."""
    scan = layout.scan(root)
    if not scan.records and not scan.bad:
        raise DataError(f"no {layout.dataset} records found under {root}")
    record_ids = {record: row + 1 for row, record in enumerate(scan.records)}
    bad = [BadRecord(0, file, reason) for file, reason in scan.bad]
    records = _unique(scan.records, root, record_ids, bad)
    described = map_chunks(
        partial(describe_chunk, layout), records, jobs, f"{layout.dataset}: headers"
    )
    good: list[tuple[RecordRef, RecordInfo, int]] = []
    for record, info in zip(records, described, strict=True):
        if isinstance(info, str):
            bad.append(BadRecord(record_ids[record], record_file(record, root), info))
        else:
            good.append((record, info, record_ids[record]))
    total = len(scan.records) + len(scan.bad)
    if not good:
        raise DataError(
            f"no usable {layout.dataset} records under {root}\n"
            + bad_records_message(layout.dataset, root, bad, total)
        )
    rate_out = rate or int(Counter(info.rate for _, info, _ in good).most_common(1)[0][0])
    folder = partial_folder(final)
    made = make_folder(folder)
    for stale in folder.glob(".*.tmp"):  # half-written files of a killed build
        stale.unlink()
    plan = _plan(good, rate_out, storage, folder, root, shard_mb)
    descriptions: dict[int, dict[str, Any]] = {}
    todo = []
    for job in plan:
        description = read_shard_json(folder / f"{shard_name(job.index)}.json")
        if shard_holds(folder, job, description):
            descriptions[job.index] = description  # type: ignore[assignment]
        else:
            remove_shard(folder, job.index)
            todo.append(job)
    resumed = len(descriptions)
    if resumed:
        log.info("%s: %d of %d shards already written; continuing", final, resumed, len(plan))
    written = map_chunks(
        partial(write_shards, layout), todo, jobs, f"{layout.dataset}: shards at {rate_out} Hz"
    )
    descriptions.update({d["index"]: d for d in written})
    ordered = [descriptions[job.index] for job in plan]
    bad += [BadRecord(**entry) for d in ordered for entry in d["bad"]]
    bad.sort(key=lambda b: (b.record_id, b.file))
    if bad and on_bad_record == "error":
        shutil.rmtree(folder, ignore_errors=True)
        remove_empty(made[1:])
        raise BadRecordsError(bad_records_message(layout.dataset, root, bad, total))
    dropped = [entry for d in ordered for entry in d["dropped"]]
    info_of = {rid: (ref, info) for ref, info, rid in good}
    rows = [(d["index"], local, entry) for d in ordered for local, entry in enumerate(d["records"])]
    if not rows:
        shutil.rmtree(folder, ignore_errors=True)
        remove_empty(made[1:])
        gone = bad + [BadRecord(d["record_id"], d["file"], d["reason"]) for d in dropped]
        raise DataError(
            f"no usable {layout.dataset} records under {root} (all dropped)\n"
            + bad_records_message(layout.dataset, root, gone, total)
        )
    index = np.array(
        [(shard, local, e["start"], e["length"]) for shard, local, e in rows], dtype=np.int64
    )
    np.save(folder / INDEX, index)
    kept = [(info_of[e["record_id"]], e) for _, _, e in rows]
    meta = _meta(layout.dataset, kept, fold_seed, root)
    write_meta(meta, folder / META)
    digest = hashlib.sha256(json.dumps([rate_out, N_LEADS, storage, fold_seed]).encode())
    digest.update("".join(e["digest"] for _, _, e in rows).encode())
    digest.update((folder / META).read_bytes())
    notes = [{"record": ref.name, "note": info.note} for (ref, info), _ in kept if info.note]
    notes += list(getattr(layout, "scan_notes", lambda: [])())
    built = ShardedBuilt(
        len(rows), rate_out, len(plan), resumed, bad, dropped, digest.hexdigest()[:16], notes
    )
    return folder, built


def land(folder: Path, final: Path, shards: int) -> None:
    """Write the checksums of the finished ``folder`` (shard sums from their JSON) and rename
    it to ``final``; a folder landed meanwhile by another process is kept instead."""
    listing: dict[str, dict[str, Any]] = {}
    for index in range(shards):
        description = read_shard_json(folder / f"{shard_name(index)}.json") or {}
        listing.update(description.get("files", {}))
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.name not in listing and path.name != CHECKSUMS:
            listing[path.name] = {"size": path.stat().st_size, "sha256": file_sha256(path)}
    (folder / CHECKSUMS).write_text(json.dumps(listing, indent=1, sort_keys=True) + "\n")
    try:
        os.replace(folder, final)
    except OSError:
        if not (final / "manifest.json").is_file():
            raise
        log.info("%s was built concurrently by another process; keeping that one", final)
        shutil.rmtree(folder, ignore_errors=True)
    rate_prefix = final.name.split("-")[0]  # "100hz" or "native"
    for sibling in final.parent.glob(f"{PARTIAL_PREFIX}{rate_prefix}-*"):
        shutil.rmtree(sibling, ignore_errors=True)  # unfinished builds of older sources


def _plan(
    good: list[tuple[RecordRef, RecordInfo, int]],
    rate_out: int,
    storage: Storage,
    folder: Path,
    root: Path,
    shard_mb: float,
) -> list[ShardJob]:
    """Consecutive records cut into shards of about ``shard_mb`` MB (estimated lengths)."""
    limit = shard_mb * 1e6
    plan: list[ShardJob] = []
    current: list[tuple[RecordRef, RecordInfo, int]] = []
    size = 0.0
    for entry in good:
        current.append(entry)
        size += output_length(entry[1].length, entry[1].rate, rate_out) * N_LEADS * STORED_BYTES
        if size >= limit:
            plan.append(ShardJob(len(plan), tuple(current), rate_out, storage, folder, root))
            current, size = [], 0.0
    if current:
        plan.append(ShardJob(len(plan), tuple(current), rate_out, storage, folder, root))
    return plan


def _unique(
    records: list[RecordRef], root: Path, record_ids: dict[RecordRef, int], bad: list[BadRecord]
) -> list[RecordRef]:
    """Records with a unique name (the first is kept); later duplicates are added to ``bad``."""
    first: dict[str, RecordRef] = {}
    for record in records:
        if record.name in first:
            reason = (
                f"duplicate record name {record.name}: also {record_file(first[record.name], root)}"
            )
            bad.append(BadRecord(record_ids[record], record_file(record, root), reason))
        else:
            first[record.name] = record
    return list(first.values())


def _meta(
    dataset: str,
    kept: list[tuple[tuple[RecordRef, RecordInfo], dict[str, Any]]],
    fold_seed: int,
    root: Path,
) -> pd.DataFrame:
    """One row per kept record, the columns of the variable-length cache's table."""
    patients = [info.patient or f"record:{e['record_id']}" for (_, info), e in kept]
    numbers = {p: i + 1 for i, p in enumerate(dict.fromkeys(patients))}
    labels = [info.labels for (_, info), _ in kept]
    return pd.DataFrame(
        {
            "record_id": np.asarray([e["record_id"] for _, e in kept], dtype=np.int64),
            "record": [ref.name for (ref, _), _ in kept],
            "patient_id": np.asarray([numbers[p] for p in patients], dtype=np.int64),
            "fold": assign_folds(labels, patients, fold_seed),
            "source": [ref.source for (ref, _), _ in kept],
            "global_id": [global_id(dataset, ref.name) for (ref, _), _ in kept],
            "aliases": [info.aliases for (_, info), _ in kept],
            "age": [info.age for (_, info), _ in kept],
            "sex": [info.sex for (_, info), _ in kept],
            "labels": labels,
            "native_rate": [info.rate for (_, info), _ in kept],
            "length": np.asarray([e["length"] for _, e in kept], dtype=np.int64),
            "file": [record_file(ref, root) for (ref, _), _ in kept],
            "note": [info.note for (_, info), _ in kept],
            "signal_fingerprint": [e["fingerprint"] for _, e in kept],
        }
    )
