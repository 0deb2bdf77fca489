"""The variable-length cache on disk, and opening it as a SignalSet.

``<cache>/<dataset>/<rate>hz-<source fingerprint[:16]>/`` holds ``signals.npy`` (float32, 1-D,
record-major, see bench.data.formats.ragged), ``offsets.npy`` (int64 [N + 1]), ``meta.csv`` (one row
per record; list columns joined with "|"), optional tables (``<name>.csv``, e.g. annotations) and
``manifest.json`` (``"layout": "ragged"``). Records of one length load as a [N, 12, T] view.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.data.formats.ragged import Ragged
from bench.data.signals import CANONICAL_LEADS, SignalSet
from bench.data.storage.cache import read_manifest
from bench.errors import DataError

log = logging.getLogger(__name__)

LAYOUT = "ragged"
CACHE_FORMAT = 1
LIST_COLUMNS: tuple[str, ...] = ("labels", "aliases")
LIST_SEPARATOR = "|"
SIGNALS = "signals.npy"
OFFSETS = "offsets.npy"
META = "meta.csv"


def write_meta(meta: pd.DataFrame, path: Path) -> None:
    """Write the metadata table with its list columns joined."""
    table = meta.copy()
    for column in LIST_COLUMNS:
        if column in table:
            table[column] = [LIST_SEPARATOR.join(values) for values in table[column]]
    table.to_csv(path, index=False)


def read_meta(path: Path) -> pd.DataFrame:
    """Read a table written by ``write_meta`` (list columns back as tuples of str)."""
    text_columns = {"record": str, "sex": str, "note": str, **dict.fromkeys(LIST_COLUMNS, str)}
    table = pd.read_csv(path, dtype=text_columns, keep_default_na=False)
    for column in LIST_COLUMNS:
        if column in table:
            table[column] = [tuple(v.split(LIST_SEPARATOR)) if v else () for v in table[column]]
    table["age"] = pd.to_numeric(table["age"].replace("", np.nan))
    return table


def open_ragged(folder: Path) -> tuple[SignalSet, dict[str, Any]]:
    """The landed cache in ``folder`` and its manifest (DataError / ValueError if damaged)."""
    manifest = read_manifest(folder)
    if manifest is None or manifest.get("layout") != LAYOUT:
        raise DataError(f"cache {folder} has no readable variable-length manifest")
    flat = np.load(folder / SIGNALS, mmap_mode="r")
    offsets = np.load(folder / OFFSETS)
    ragged = Ragged(flat, offsets, len(CANONICAL_LEADS))
    if len(ragged) != manifest["records"]:
        raise ValueError(f"{len(ragged)} records, manifest says {manifest['records']}")
    tables = {name: pd.read_csv(folder / f"{name}.csv") for name in manifest["tables"]}
    data = SignalSet(
        name=manifest["dataset"],
        signals=ragged.as_array() if ragged.as_array() is not None else ragged,
        meta=read_meta(folder / META),
        sampling_rate=manifest["sampling_rate"],
        lead_names=tuple(manifest["lead_names"]),
        fingerprint=manifest["content_fingerprint"],
        tables=tables,
        fold_spec=manifest["folds"],
    )
    return data, manifest


def open_if_valid(folder: Path, fingerprint: str) -> tuple[SignalSet, dict[str, Any]] | None:
    """The cache in ``folder`` if it was built from ``fingerprint``; a damaged one is removed."""
    manifest = read_manifest(folder)
    if manifest is None or manifest.get("source_fingerprint") != fingerprint:
        return None
    try:
        return open_ragged(folder)
    except (OSError, ValueError, KeyError, DataError) as error:
        log.warning("cache %s is damaged (%s); rebuilding it", folder, error)
        shutil.rmtree(folder, ignore_errors=True)
        return None
