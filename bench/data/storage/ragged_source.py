"""Base of the dataset sources stored in the variable-length cache (CinC, CPSC, LUDB, WFDB).

A source names its Layout and the options it accepts (e.g. cinc2021's ``sources``). Options
come from ``prepare(options=...)`` (the command line) or else ``$BENCH_<DATASET>_<OPTION>``, so
a task loading the dataset sees the same choice. The cache is reused while the source
fingerprint (layout tables' bytes, (path, size, mtime) of the record files, rate, options, fold
spec, cache format) is unchanged; a build lands atomically and replaces older caches of the rate.
"""

from __future__ import annotations

import datetime
import logging
import os
import time
from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import ClassVar

from bench.data.folds import DEFAULT_SEED, fold_spec
from bench.data.layout import Layout
from bench.data.loading import DatasetSource
from bench.data.signals import CANONICAL_LEADS, SignalSet
from bench.data.storage.cache import (
    BadRecord,
    BadRecordPolicy,
    BadRecordsError,
    Prepared,
    building,
    is_built,
    package_versions,
    prune_siblings,
    skip_advice,
    source_fingerprint,
    write_json,
)
from bench.data.storage.ragged_build import build_ragged
from bench.data.storage.ragged_cache import CACHE_FORMAT, LAYOUT, open_if_valid, open_ragged
from bench.errors import ConfigError, DataError

log = logging.getLogger(__name__)


class RaggedSource(DatasetSource):
    """A dataset read through a Layout into the variable-length cache."""

    option_names: ClassVar[tuple[str, ...]] = ()
    fold_seed: ClassVar[int] = DEFAULT_SEED

    @abstractmethod
    def layout(self, root: Path, options: Mapping[str, str]) -> Layout:
        """The layout reading ``root`` with ``options`` (ConfigError for a bad option)."""

    def load(self, root: Path | None, rate: int | None, cache: Path) -> SignalSet:
        """The cached dataset resampled to ``rate`` (built on first use)."""
        return self.prepare(root, rate, cache).data

    def resolve_options(self, options: Mapping[str, str] | None) -> dict[str, str]:
        """``options`` over ``$BENCH_<DATASET>_<OPTION>``; unknown names are refused."""
        given = dict(options or {})
        unknown = sorted(set(given) - set(self.option_names))
        if unknown:
            accepted = ", ".join(self.option_names) or "none"
            raise ConfigError(f"{self.name} has no option {unknown} (accepted: {accepted})")
        prefix = f"BENCH_{self.name.upper()}_"
        for option in self.option_names:
            value = os.environ.get(prefix + option.upper())
            if option not in given and value:
                given[option] = value
        return given

    def prepare(
        self,
        root: Path | None,
        rate: int | None,
        cache: Path,
        jobs: int | None = None,
        on_bad_record: BadRecordPolicy = "error",
        options: Mapping[str, str] | None = None,
    ) -> Prepared:
        """Reuse or build the cache of ``root`` at ``rate`` Hz (None: most common native)."""
        start = time.perf_counter()
        root = self.checked_root(root)
        resolved = self.resolve_options(options)
        layout, spec, fingerprint, prefix, final = self.locate(root, rate, cache, resolved)
        opened = open_if_valid(final, fingerprint)
        built = opened is None
        if opened is None:
            try:
                self._build(layout, root, final, rate, jobs, on_bad_record, fingerprint, spec)
            except BadRecordsError as error:
                advice = skip_advice(self.name, root, rate, resolved)
                raise BadRecordsError(f"{error}\n{advice}") from None
            prune_siblings(final, prefix)
            opened = open_ragged(final)
        data, manifest = opened
        skipped = tuple(BadRecord(**bad) for bad in manifest["skipped"])
        if skipped and not built:
            log.warning("%d bad records were skipped when %s was built", len(skipped), final)
        return Prepared(data, final, built, time.perf_counter() - start, skipped)

    def locate(
        self, root: Path, rate: int | None, cache: Path, options: Mapping[str, str]
    ) -> tuple[Layout, dict[str, object], str, str, Path]:
        """The layout, cache spec, source fingerprint, rate prefix and cache folder of ``root``
        at ``rate`` under ``cache`` with resolved ``options``."""
        layout = self.layout(root, options)
        spec = {
            "format": CACHE_FORMAT,
            "rate": rate,
            "layout": layout.options(),
            "folds": fold_spec(self.fold_seed),
        }
        fingerprint, prefix, final = self.cache_folder(layout, root, spec, rate, cache)
        return layout, spec, fingerprint, prefix, final

    def cache_to_build(self, root: Path | None, rate: int | None, cache: Path) -> Path | None:
        """The cache folder a load at ``rate`` would build first; None when it is built."""
        checked = self.checked_root(root)
        *_, fingerprint, _, final = self.locate(checked, rate, cache, self.resolve_options(None))
        return None if is_built(final, fingerprint) else final

    def checked_root(self, root: Path | None) -> Path:
        """``root``, or a DataError when it is not an existing folder."""
        if root is None or not root.is_dir():
            raise DataError(f"{self.name} root does not exist or is not a folder: {root}")
        return root

    def cache_folder(
        self, layout: Layout, root: Path, spec: Mapping[str, object], rate: int | None, cache: Path
    ) -> tuple[str, str, Path]:
        """The source fingerprint of ``root`` under ``spec``, the cache's rate prefix and the
        cache folder under ``cache`` they name (DataError when the source cannot be read)."""
        try:
            fingerprint = source_fingerprint(layout.tables(root), layout.folders(root), spec)
        except OSError as error:
            raise DataError(f"{self.name} under {root} cannot be read: {error}") from None
        prefix = f"{rate}hz-" if rate else "native-"
        return fingerprint, prefix, cache / self.name / f"{prefix}{fingerprint[:16]}"

    def _build(
        self,
        layout: Layout,
        root: Path,
        final: Path,
        rate: int | None,
        jobs: int | None,
        on_bad_record: BadRecordPolicy,
        fingerprint: str,
        spec: Mapping[str, object],
    ) -> None:
        start = time.perf_counter()
        with building(final) as temp:
            built = build_ragged(layout, root, temp, rate, jobs, on_bad_record, self.fold_seed)
            tables = ["annotations"] if (temp / "annotations.csv").is_file() else []
            write_json(
                temp / "manifest.json",
                {
                    "dataset": self.name,
                    "layout": LAYOUT,
                    "cache_format": CACHE_FORMAT,
                    "source_root": str(root.resolve()),
                    "source_fingerprint": fingerprint,
                    "content_fingerprint": built.content_fingerprint,
                    "options": dict(spec),
                    "folds": fold_spec(self.fold_seed),
                    "sampling_rate": built.rate,
                    "lead_names": list(CANONICAL_LEADS),
                    "records": built.records,
                    "tables": tables,
                    "skipped": [asdict(bad) for bad in built.skipped],
                    "notes": built.notes,
                    "versions": package_versions(["ecg-ssl-bench", "numpy", "scipy", "wfdb"]),
                    "built_at": datetime.datetime.now(datetime.timezone.utc).isoformat(
                        timespec="seconds"
                    ),
                    "build_seconds": round(time.perf_counter() - start, 3),
                },
            )
