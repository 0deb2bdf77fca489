"""CODE-15% (Ribeiro et al., Zenodo): 345,779 12-lead exams at 400 Hz in HDF5 parts.

Root: the folder holding ``exams.csv`` (exam_id, age, is_male, nn_predicted_age, 1dAVb, RBBB,
LBBB, SB, ST, AF, patient_id, death, timey, normal_ecg, trace_file) and ``exams_partN.hdf5``
(datasets ``tracings`` float32 [N, 4096, 12], leads I II III aVR aVL aVF V1..V6, and
``exam_id`` [N]). Read with h5py, contiguous rows at a time.

Quirks, as documented checks:
- Rows whose ``exam_id`` is 0 are padding: skipped and counted per file (a manifest note).
- Records of 7-10 s are zero-padded to 4096 samples. A sample is padding when all 12 leads
  are exactly 0.0; the leading and trailing runs of such samples are trimmed, so each record
  keeps its true length (zeros inside a record are kept). An all-zero tracing is dropped by
  the quality policy ("empty"), as are NaN samples and flat leads (bench.data.storage.shards_write).
- An exam id in a part but not in ``exams.csv`` is a bad record; a part without the two
  datasets, or with mismatched shapes, fails the build naming the file.
Labels: the six abnormality columns that are true (1dAVb, RBBB, LBBB, SB, ST, AF); folds are
grouped by ``patient_id``. Stored by default as a sharded int16 cache.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.data.layout import Layout, RecordError, RecordInfo, RecordRef, Scan
from bench.data.loading import register_dataset
from bench.data.storage.shards_source import STORAGE_OPTIONS, ShardedSource
from bench.errors import DataError

EXAMS = "exams.csv"
PART_PATTERN = re.compile(r"^exams_part(\d+)\.hdf5$")
RATE = 400
PADDED_LENGTH = 4096
N_LEADS = 12
LABELS: tuple[str, ...] = ("1dAVb", "RBBB", "LBBB", "SB", "ST", "AF")
EXAM_COLUMNS: tuple[str, ...] = ("exam_id", "age", "is_male", "patient_id")
FULL_RECORDS = 345_779
SEXES: dict[str, str] = {"true": "male", "1": "male", "false": "female", "0": "female"}
BLOCK_ROWS = 256  # rows read at once: 50 MB of float32 tracings


@lru_cache(maxsize=4)
def read_exams(path: Path, mtime_ns: int) -> dict[str, RecordInfo]:
    """exam_id -> metadata of ``exams.csv`` (DataError naming the file or missing columns)."""
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise DataError(f"{path} not found: is {path.parent} a CODE-15% folder?") from None
    except (OSError, ValueError) as error:
        raise DataError(f"{path} cannot be read: {error}") from None
    missing = [c for c in EXAM_COLUMNS if c not in table.columns]
    if missing:
        raise DataError(f"{path} has no column(s) {missing} (columns: {list(table.columns)})")
    labels = [c for c in LABELS if c in table.columns]
    truth = np.stack(
        [table[c].str.strip().str.lower().isin(["true", "1", "1.0"]).to_numpy() for c in labels]
        or [np.zeros(len(table), bool)]
    )
    ages = pd.to_numeric(table["age"], errors="coerce").to_numpy(dtype=float)
    sexes = table["is_male"].str.strip().str.lower().map(SEXES).fillna("").to_numpy()
    patients = table["patient_id"].str.strip().to_numpy()
    infos = {}
    for row, exam in enumerate(table["exam_id"].str.strip()):
        infos[exam] = RecordInfo(
            rate=RATE,
            length=PADDED_LENGTH,
            age=float(ages[row]),
            sex=str(sexes[row]),
            labels=tuple(c for i, c in enumerate(labels) if truth[i, row]),
            patient=str(patients[row]),
        )
    return infos


def trim_padding(tracing: np.ndarray) -> np.ndarray:
    """[T, 12] padded tracing -> [12, T'] without the leading and trailing all-zero samples."""
    used = np.flatnonzero(np.any(tracing != 0, axis=1))
    if not len(used):
        return np.zeros((tracing.shape[1], 0), np.float32)
    return np.ascontiguousarray(tracing[used[0] : used[-1] + 1].T, dtype=np.float32)


def part_files(root: Path) -> list[Path]:
    """The ``exams_partN.hdf5`` files of ``root`` in part order."""
    parts = [p for p in root.iterdir() if PART_PATTERN.match(p.name)]
    return sorted(parts, key=lambda p: int(PART_PATTERN.match(p.name)[1]))  # type: ignore[index]


def part_exam_ids(path: Path) -> np.ndarray:
    """The ``exam_id`` column of a part, its shapes checked (DataError naming the file)."""
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            missing = [name for name in ("tracings", "exam_id") if name not in handle]
            if missing:
                raise DataError(f"{path} has no dataset(s) {missing} (holds {sorted(handle)})")
            shape = handle["tracings"].shape
            ids = np.asarray(handle["exam_id"][:]).astype(np.int64).ravel()
    except OSError as error:
        raise DataError(f"{path} is not a readable HDF5 file: {error}") from None
    if len(shape) != 3 or shape[0] != len(ids) or shape[2] != N_LEADS:
        raise DataError(
            f"{path}: tracings of shape {shape} and {len(ids)} exam ids; expected "
            f"[{len(ids)}, samples, {N_LEADS}]"
        )
    return ids


class Code15Layout(Layout):
    """The HDF5 parts of a CODE-15% folder, with ``exams.csv``'s metadata."""

    dataset = "code15"

    def __init__(self) -> None:
        self._notes: list[dict[str, str]] = []

    def tables(self, root: Path) -> list[Path]:
        """The exams table (when absent, ``scan`` says so)."""
        return [root / EXAMS] if (root / EXAMS).is_file() else []

    def folders(self, root: Path) -> list[Path]:
        """The root (its parts are stat'ed, not hashed)."""
        return [root]

    def scan(self, root: Path) -> Scan:
        """Every non-padding row of every part, in part and row order."""
        exams_path = root / EXAMS
        infos = _exams(exams_path)
        parts = part_files(root)
        if not parts:
            raise DataError(f"no exams_partN.hdf5 files in {root}")
        records, bad = [], []
        self._notes = []
        for part in parts:
            ids = part_exam_ids(part)
            padding = int(np.count_nonzero(ids == 0))
            if padding:
                self._notes.append(
                    {"record": part.name, "note": f"{padding} padding rows (exam_id 0) skipped"}
                )
            for exam in ids[ids != 0]:
                name = str(int(exam))
                if name in infos:
                    records.append(RecordRef(name, part, self.dataset, infos[name].labels))
                else:
                    bad.append((f"{part.name} [{name}]", f"exam_id {name} has no row in {EXAMS}"))
        return Scan(records, bad)

    def scan_notes(self) -> list[dict[str, str]]:
        """Notes of the last scan (padding rows per part)."""
        return list(self._notes)

    def describe(self, record: RecordRef) -> RecordInfo:
        """Metadata from ``exams.csv``; the length is the padded one until the read trims it."""
        info = _exams(record.path.parent / EXAMS).get(record.name)
        if info is None:
            raise RecordError(f"exam_id {record.name} has no row in {EXAMS}")
        return info

    def read(self, record: RecordRef) -> np.ndarray:
        """One exam, trimmed (``read_many`` reads many rows at once)."""
        _, signals = next(self.read_many([record]))
        if isinstance(signals, str):
            raise RecordError(signals)
        return signals

    def read_many(
        self, records: Sequence[RecordRef]
    ) -> Iterator[tuple[RecordRef, np.ndarray | str]]:
        """(record, trimmed float32 [12, T] or the reason), reading consecutive rows together."""
        import h5py

        position = 0
        while position < len(records):
            part = records[position].path
            end = position
            while end < len(records) and records[end].path == part:
                end += 1
            group = records[position:end]
            try:
                with h5py.File(part, "r") as handle:
                    yield from _read_group(handle, group)
            except OSError as error:
                yield from ((r, f"{part.name} cannot be read: {error}") for r in group)
            position = end


def _read_group(handle: Any, group: Sequence[RecordRef]) -> Iterator[tuple[RecordRef, Any]]:
    """The records of one open part, in runs of consecutive rows."""
    ids = np.asarray(handle["exam_id"][:]).astype(np.int64).ravel()
    row_of = {str(int(exam)): row for row, exam in enumerate(ids) if exam != 0}
    rows = [row_of.get(record.name, -1) for record in group]
    start = 0
    while start < len(group):
        if rows[start] < 0:
            yield group[start], f"exam_id {group[start].name} is not in {handle.filename}"
            start += 1
            continue
        end = start + 1
        while end < len(group) and rows[end] == rows[end - 1] + 1 and end - start < BLOCK_ROWS:
            end += 1
        block = np.asarray(handle["tracings"][rows[start] : rows[end - 1] + 1], np.float32)
        for offset, record in enumerate(group[start:end]):
            yield record, trim_padding(block[offset])
        start = end


def _exams(path: Path) -> dict[str, RecordInfo]:
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        raise DataError(f"{path} not found: is {path.parent} a CODE-15% folder?") from None
    return read_exams(path, mtime)


@register_dataset
class Code15Source(ShardedSource):
    """CODE-15%: 345,779 exams of 233,770 patients, 7-10 s at 400 Hz (sharded cache)."""

    name = "code15"
    download_page = "https://zenodo.org/records/4916206"
    option_names = STORAGE_OPTIONS
    full_records = FULL_RECORDS

    def layout(self, root: Path, options: Mapping[str, str]) -> Code15Layout:
        """The HDF5 layout (no options of its own)."""
        return Code15Layout()
