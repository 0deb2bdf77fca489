"""Base of the dataset sources stored in sharded compact caches (MIMIC-IV-ECG, CODE-15%).

Like ``RaggedSource`` (options, fingerprint, reuse while the source is unchanged), but the cache is
written shard by shard (bounded memory, resumable after a kill; bench.data.storage.shards_build) in
int16 or float16 with recorded scales (bench.data.formats.shards) and opened as memory-mapped
``ShardedRecords``. Options: ``storage`` (int16, the default, or float16) and ``shard_mb`` (stored
MB per shard, default 128). ``full_records`` is the size of the complete dataset, used to project
the cache size at full scale.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar

from bench.data.folds import fold_spec
from bench.data.formats.shards import LAYOUT, SHARD_FORMAT, STORAGES, Storage, open_records
from bench.data.layout import Layout
from bench.data.signals import CANONICAL_LEADS, SignalSet
from bench.data.storage.cache import (
    BadRecord,
    BadRecordPolicy,
    BadRecordsError,
    Prepared,
    package_versions,
    prune_siblings,
    read_manifest,
    skip_advice,
    write_json,
)
from bench.data.storage.ragged_cache import META, read_meta
from bench.data.storage.ragged_source import RaggedSource
from bench.data.storage.shards_build import DEFAULT_SHARD_MB, build_sharded, land
from bench.errors import ConfigError, DataError

log = logging.getLogger(__name__)

STORAGE_OPTIONS: tuple[str, ...] = ("storage", "shard_mb")


def storage_options(options: Mapping[str, str]) -> tuple[Storage, float]:
    """The ``storage`` and ``shard_mb`` options, checked (ConfigError naming the option)."""
    storage = options.get("storage") or "int16"
    if storage not in STORAGES:
        raise ConfigError(f"--storage {storage!r} is not one of {', '.join(STORAGES)}")
    try:
        shard_mb = float(options.get("shard_mb") or DEFAULT_SHARD_MB)
    except ValueError:
        raise ConfigError(f"--shard-mb {options['shard_mb']!r} is not a number") from None
    if not shard_mb > 0:
        raise ConfigError(f"--shard-mb must be positive, got {shard_mb}")
    return storage, shard_mb  # type: ignore[return-value]


def open_sharded(folder: Path) -> tuple[SignalSet, dict[str, Any]]:
    """The landed sharded cache in ``folder`` and its manifest (DataError if unreadable)."""
    manifest = read_manifest(folder)
    if manifest is None or manifest.get("layout") != LAYOUT:
        raise DataError(f"cache {folder} has no readable sharded manifest")
    data = SignalSet(
        name=manifest["dataset"],
        signals=open_records(folder, manifest),
        meta=read_meta(folder / META),
        sampling_rate=manifest["sampling_rate"],
        lead_names=tuple(manifest["lead_names"]),
        fingerprint=manifest["content_fingerprint"],
        fold_spec=manifest["folds"],
    )
    return data, manifest


class ShardedSource(RaggedSource):
    """A dataset read through a Layout into a sharded compact cache."""

    full_records: ClassVar[int] = 0

    def locate(
        self, root: Path, rate: int | None, cache: Path, options: Mapping[str, str]
    ) -> tuple[Layout, dict[str, object], str, str, Path]:
        """As ``RaggedSource.locate``, with the storage options in the spec."""
        storage, shard_mb = storage_options(options)
        layout = self.layout(root, {k: v for k, v in options.items() if k not in STORAGE_OPTIONS})
        spec = {
            "format": SHARD_FORMAT,
            "kind": LAYOUT,
            "rate": rate,
            "storage": storage,
            "shard_mb": shard_mb,
            "layout": layout.options(),
            "folds": fold_spec(self.fold_seed),
        }
        fingerprint, prefix, final = self.cache_folder(layout, root, spec, rate, cache)
        return layout, spec, fingerprint, prefix, final

    def prepare(
        self,
        root: Path | None,
        rate: int | None,
        cache: Path,
        jobs: int | None = None,
        on_bad_record: BadRecordPolicy = "error",
        options: Mapping[str, str] | None = None,
    ) -> Prepared:
        """Reuse, finish or build the sharded cache of ``root`` at ``rate`` Hz."""
        start = time.perf_counter()
        root = self.checked_root(root)
        resolved = self.resolve_options(options)
        storage, shard_mb = storage_options(resolved)
        layout, spec, fingerprint, prefix, final = self.locate(root, rate, cache, resolved)
        manifest = read_manifest(final)
        built = manifest is None or manifest.get("source_fingerprint") != fingerprint
        if built:
            try:
                folder, result = build_sharded(
                    layout, root, final, rate, jobs, on_bad_record, self.fold_seed, storage,
                    shard_mb,
                )  # fmt: skip
            except BadRecordsError as error:
                advice = skip_advice(self.name, root, rate, resolved)
                raise BadRecordsError(f"{error}\n{advice}") from None
            write_json(
                folder / "manifest.json",
                {
                    "dataset": self.name,
                    "layout": LAYOUT,
                    "cache_format": SHARD_FORMAT,
                    "storage": storage,
                    "shards": result.shards,
                    "resumed_shards": result.resumed_shards,
                    "source_root": str(root.resolve()),
                    "source_fingerprint": fingerprint,
                    "content_fingerprint": result.content_fingerprint,
                    "options": spec,
                    "folds": fold_spec(self.fold_seed),
                    "sampling_rate": result.rate,
                    "lead_names": list(CANONICAL_LEADS),
                    "records": result.records,
                    "full_records": self.full_records,
                    "tables": [],
                    "skipped": [asdict(bad) for bad in result.skipped],
                    "dropped": result.dropped,
                    "dropped_counts": dict(Counter(d["kind"] for d in result.dropped)),
                    "notes": result.notes,
                    "versions": package_versions(["ecg-ssl-bench", "numpy", "wfdb", "h5py"]),
                    "built_at": datetime.datetime.now(datetime.timezone.utc).isoformat(
                        timespec="seconds"
                    ),
                    "build_seconds": round(time.perf_counter() - start, 3),
                },
            )
            land(folder, final, result.shards)
            prune_siblings(final, prefix)
        data, manifest = open_sharded(final)
        skipped = tuple(BadRecord(**bad) for bad in manifest["skipped"])
        if skipped and not built:
            log.warning("%d bad records were skipped when %s was built", len(skipped), final)
        return Prepared(data, final, built, time.perf_counter() - start, skipped)
