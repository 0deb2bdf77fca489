"""PTB-XL from its official PhysioNet layout, prepared once into a memory-mapped cache.

Layout read: ``ptbxl_database.csv``, ``scp_statements.csv`` and ``records100/`` and/or
``records500/`` (WFDB). The folder used is the native rate equal to the requested one, else the
lowest native rate above it, else the highest there is (preprocessing resamples afterwards); with
no rate requested, the lowest (100 Hz, the PTB-XL benchmark's rate).

Cache: ``<cache>/ptbxl/<rate>hz-<source fingerprint>/`` holds ``signals.npy`` (float32
[N, 12, T], canonical lead order), ``meta.csv``, ``scp_statements.csv`` and ``manifest.json``.
The source fingerprint hashes both CSVs and the (path, size, mtime) of every file of the records
folder, so a warm load only stats files and a changed source is rebuilt. Builds happen in a temp
folder that is renamed into place; older caches of the same rate are then removed.

Bad records (listed but missing on disk, truncated .dat, NaNs, fewer than 12 or unknown leads,
a header rate different from its folder, wrong length, unusable CSV row). Policy:
- ``on_bad_record="error"`` (default): every record is read first, then ONE DataError lists all
  bad records (ecg_id, file, reason) and gives the ``bench data prepare ... --skip-bad-records``
  command that builds this cache without them; nothing is cached.
- ``on_bad_record="skip"``: bad records are dropped; their ids and reasons are logged and stored
  under "skipped" in the manifest. Later loads reuse that cache (warning how many were skipped)
  until the source changes.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from bench.data.loading import DatasetSource, register_dataset
from bench.data.signals import SignalSet
from bench.data.sources.ptbxl_tables import (
    DATABASE_CSV,
    STATEMENTS_CSV,
    build_meta,
    read_database,
    read_meta,
    read_statements,
    write_meta,
)
from bench.data.storage.cache import (
    BadRecord,
    BadRecordPolicy,
    BadRecordsError,
    Prepared,
    building,
    is_built,
    package_versions,
    prune_siblings,
    read_manifest,
    skip_advice,
    source_fingerprint,
    write_json,
)
from bench.data.wfdb.parallel_read import RecordJob, read_records
from bench.data.wfdb.records import RecordSpec
from bench.errors import DataError

log = logging.getLogger(__name__)

NATIVE_RATES: tuple[int, ...] = (100, 500)
RECORD_SECONDS = 10
CACHE_FORMAT = 1
SHOWN_BAD_RECORDS = 10
COPY_BLOCK_ROWS = 1024


@register_dataset
class PTBXLSource(DatasetSource):
    """PTB-XL 1.0.x (Wagner et al., 2020): 21,837 10-s 12-lead ECGs at 100 and 500 Hz."""

    name = "ptbxl"
    download_page = "https://physionet.org/content/ptb-xl/1.0.3/"
    archive_url = (
        "https://physionet.org/static/published-projects/ptb-xl/"
        "ptb-xl-a-large-publicly-available-electrocardiography-dataset-1.0.3.zip"
    )

    def load(self, root: Path | None, rate: int | None, cache: Path) -> SignalSet:
        """The cached dataset at the native rate chosen for ``rate`` (built on first use)."""
        return self.prepare(root, rate, cache).data

    def prepare(
        self,
        root: Path | None,
        rate: int | None,
        cache: Path,
        jobs: int | None = None,
        on_bad_record: BadRecordPolicy = "error",
    ) -> Prepared:
        """Reuse or build the cache of ``root`` with ``jobs`` reader processes (see module doc)."""
        start = time.perf_counter()
        root = check_layout(root)
        spec, fingerprint, final = locate(root, rate, cache)
        opened = _open_if_valid(final, fingerprint)
        built = opened is None
        if opened is None:
            try:
                _build(root, final, spec, fingerprint, jobs, on_bad_record)
            except BadRecordsError as error:
                advice = skip_advice(self.name, root, rate, {})
                raise BadRecordsError(f"{error}\n{advice}") from None
            prune_siblings(final, f"{spec.rate}hz-")
            opened = open_cache(final)
        data, manifest = opened
        skipped = tuple(BadRecord(**bad) for bad in manifest["skipped"])
        if skipped and not built:
            log.warning("%d bad records were skipped when %s was built", len(skipped), final)
        return Prepared(data, final, built, time.perf_counter() - start, skipped)

    def cache_to_build(self, root: Path | None, rate: int | None, cache: Path) -> Path | None:
        """The cache folder a load at ``rate`` would build first; None when it is built."""
        _, fingerprint, final = locate(check_layout(root), rate, cache)
        return None if is_built(final, fingerprint) else final


def locate(root: Path, rate: int | None, cache: Path) -> tuple[RecordSpec, str, Path]:
    """The record spec (native rate chosen for ``rate``), source fingerprint and cache folder
    of the PTB-XL layout at ``root`` (DataError when it cannot be read)."""
    native = choose_rate(available_rates(root), rate)
    spec = RecordSpec(rate=native, length=native * RECORD_SECONDS)
    try:
        fingerprint = source_fingerprint(
            [root / DATABASE_CSV, root / STATEMENTS_CSV],
            [root / f"records{native}"],
            {"format": CACHE_FORMAT, "rate": native, "length": spec.length},
        )
    except OSError as error:
        raise DataError(f"PTB-XL under {root} cannot be read: {error}") from None
    return spec, fingerprint, cache / "ptbxl" / f"{native}hz-{fingerprint[:16]}"


def check_layout(root: Path | None) -> Path:
    """``root`` if it is a folder with both CSVs; else a DataError naming what is missing."""
    if root is None:
        raise DataError(f"PTB-XL needs a data root (download from {PTBXLSource.download_page})")
    if not root.is_dir():
        raise DataError(f"PTB-XL root does not exist or is not a folder: {root}")
    for table in (DATABASE_CSV, STATEMENTS_CSV):
        if not (root / table).is_file():
            raise DataError(f"PTB-XL table not found: {root / table}")
    return root


def available_rates(root: Path) -> list[int]:
    """Native rates whose records folder (records100/, records500/) exists under ``root``."""
    rates = [rate for rate in NATIVE_RATES if (root / f"records{rate}").is_dir()]
    if not rates:
        folders = " or ".join(str(root / f"records{rate}") for rate in NATIVE_RATES)
        raise DataError(f"no PTB-XL records folder: expected {folders}")
    return rates


def choose_rate(available: Sequence[int], rate: int | None) -> int:
    """``rate`` if native, else the lowest native rate above it, else the highest native one;
    the lowest native rate when ``rate`` is None."""
    ordered = sorted(available)
    if rate is None:
        return ordered[0]
    above = [native for native in ordered if native >= rate]
    return above[0] if above else ordered[-1]


def bad_records_message(root: Path, bad: Sequence[BadRecord], total: int) -> str:
    """One message listing the first bad records (ecg_id, file, reason) and how many in all."""
    lines = [f"{len(bad)} of {total} PTB-XL records under {root} are bad:"]
    lines += [f"  ecg_id {b.record_id} ({b.file}): {b.reason}" for b in bad[:SHOWN_BAD_RECORDS]]
    if len(bad) > SHOWN_BAD_RECORDS:
        lines.append(f"  ... and {len(bad) - SHOWN_BAD_RECORDS} more")
    return "\n".join(lines)


def _open_if_valid(final: Path, fingerprint: str) -> tuple[SignalSet, dict[str, Any]] | None:
    manifest = read_manifest(final)
    if manifest is None or manifest.get("source_fingerprint") != fingerprint:
        return None
    try:
        return open_cache(final)
    except (OSError, ValueError, KeyError) as error:
        log.warning("cache %s is damaged (%s); rebuilding it", final, error)
        shutil.rmtree(final, ignore_errors=True)
        return None


def open_cache(folder: Path) -> tuple[SignalSet, dict[str, Any]]:
    """The landed cache in ``folder`` and its manifest."""
    manifest = read_manifest(folder)
    if manifest is None:
        raise DataError(f"cache {folder} has no readable manifest")
    signals = np.load(folder / "signals.npy", mmap_mode="r")
    if signals.shape[0] != manifest["records"]:
        raise ValueError(f"{signals.shape[0]} rows, manifest says {manifest['records']}")
    data = SignalSet(
        name="ptbxl",
        signals=signals,
        meta=read_meta(folder / "meta.csv"),
        sampling_rate=manifest["sampling_rate"],
        lead_names=tuple(manifest["lead_names"]),
        fingerprint=manifest["content_fingerprint"],
        tables={"scp_statements": read_statements(folder / STATEMENTS_CSV)},
    )
    return data, manifest


def _build(
    root: Path,
    final: Path,
    spec: RecordSpec,
    fingerprint: str,
    jobs: int | None,
    on_bad_record: BadRecordPolicy,
) -> None:
    start = time.perf_counter()
    with building(final) as temp:
        database = read_database(root / DATABASE_CSV, spec.rate)
        shutil.copyfile(root / STATEMENTS_CSV, temp / STATEMENTS_CSV)
        read_statements(temp / STATEMENTS_CSV)
        meta, bad = build_meta(database, spec.rate)
        array_path = temp / "signals.npy"
        shape = (len(meta), len(spec.leads), spec.length)
        np.lib.format.open_memmap(array_path, mode="w+", dtype=np.float32, shape=shape).flush()
        records = [RecordJob(row, root / file) for row, file in enumerate(meta["file"])]
        outcome = read_records(array_path, records, spec, jobs, desc=f"PTB-XL {spec.rate} Hz")
        bad += [
            BadRecord(int(meta.at[row, "record_id"]), str(meta.at[row, "file"]), reason)
            for row, reason in sorted(outcome.errors.items())
        ]
        bad.sort(key=lambda b: b.record_id)
        if bad and on_bad_record == "error":
            raise BadRecordsError(bad_records_message(root, bad, len(database)))
        keep = [row for row in range(len(meta)) if row not in outcome.errors]
        if len(keep) == 0:
            raise DataError(
                f"no usable PTB-XL records under {root}\n"
                + bad_records_message(root, bad, len(database))
            )
        if bad:
            log.warning("%s\nskipping them", bad_records_message(root, bad, len(database)))
        if len(keep) < len(meta):
            _compact(array_path, keep)
            meta = meta.iloc[keep].reset_index(drop=True)
        write_meta(meta, temp / "meta.csv")
        content = _content_fingerprint(temp, [outcome.digests[row] for row in keep], spec)
        write_json(
            temp / "manifest.json",
            _manifest(root, spec, fingerprint, content, len(meta), bad, start),
        )


def _compact(array_path: Path, keep: list[int]) -> None:
    """Rewrite the array with only the rows in ``keep`` (in order)."""
    source = np.load(array_path, mmap_mode="r")
    compact_path = array_path.with_name("signals.compact.npy")
    target = np.lib.format.open_memmap(
        compact_path, mode="w+", dtype=np.float32, shape=(len(keep), *source.shape[1:])
    )
    for start in range(0, len(keep), COPY_BLOCK_ROWS):
        rows = keep[start : start + COPY_BLOCK_ROWS]
        target[start : start + len(rows)] = source[rows]
    target.flush()
    del source, target
    compact_path.replace(array_path)


def _content_fingerprint(folder: Path, digests: list[bytes], spec: RecordSpec) -> str:
    digest = hashlib.sha256(json.dumps([spec.rate, spec.length, spec.leads]).encode())
    digest.update(b"".join(digests))
    for name in ("meta.csv", STATEMENTS_CSV):
        digest.update((folder / name).read_bytes())
    return digest.hexdigest()[:16]


def _manifest(
    root: Path,
    spec: RecordSpec,
    source: str,
    content: str,
    records: int,
    skipped: list[BadRecord],
    start: float,
) -> dict[str, Any]:
    return {
        "dataset": "ptbxl",
        "cache_format": CACHE_FORMAT,
        "source_root": str(root.resolve()),
        "source_fingerprint": source,
        "content_fingerprint": content,
        "sampling_rate": spec.rate,
        "lead_names": list(spec.leads),
        "records": records,
        "samples": spec.length,
        "skipped": [asdict(bad) for bad in skipped],
        "versions": package_versions(["ecg-ssl-bench", "numpy", "pandas", "wfdb"]),
        "built_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "build_seconds": round(time.perf_counter() - start, 3),
    }
