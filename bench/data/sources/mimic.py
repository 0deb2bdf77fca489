"""MIMIC-IV-ECG (PhysioNet v1.0): about 800,000 diagnostic 10-s 12-lead ECGs at 500 Hz, WFDB.

Root: the release folder holding ``record_list.csv`` (subject_id, study_id, file_name,
ecg_time, path) and ``files/pNNNN/pNNNNNNNN/sNNNNNNNN/NNNNNNNN.hea/.dat``. The records are the
rows of ``record_list.csv`` (in its order; ``path`` is the record without extension, relative
to the root); a listed record missing on disk is a bad record naming its file. The record name
is the study id, the patient its subject id (folds are grouped by patient).

Quirks: the header's lead order is not the canonical one (aVF before aVL), so leads are matched by
name. Records holding NaN samples (format-16 value -32768) or a flat lead are dropped by the sharded
caches' quality policy and reported with their reason (bench.data.storage.shards_write). There are
no labels here (``machine_measurements.csv`` is not read): a pretraining corpus. Stored by default
as a sharded int16 cache (bench.data.storage.shards_source).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from bench.data.layout import RecordInfo, RecordRef, Scan
from bench.data.loading import register_dataset
from bench.data.storage.shards_source import STORAGE_OPTIONS, ShardedSource
from bench.data.wfdb.layout import WfdbLayout, checked_header
from bench.data.wfdb.leads import LeadMap
from bench.data.wfdb.records import Header
from bench.data.wfdb.signal_files import read_signals
from bench.errors import DataError

RECORD_LIST = "record_list.csv"
RECORD_COLUMNS: tuple[str, ...] = ("subject_id", "study_id", "path")
FULL_RECORDS = 800_000  # "about 800,000" (MIMIC-IV-ECG v1.0, PhysioNet); for size projections


def read_record_list(root: Path) -> pd.DataFrame:
    """``record_list.csv`` of ``root`` (DataError naming the file or its missing columns)."""
    path = root / RECORD_LIST
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise DataError(f"{path} not found: is {root} a MIMIC-IV-ECG release folder?") from None
    except (OSError, ValueError) as error:
        raise DataError(f"{path} cannot be read: {error}") from None
    missing = [column for column in RECORD_COLUMNS if column not in table.columns]
    if missing:
        raise DataError(f"{path} has no column(s) {missing} (columns: {list(table.columns)})")
    return table


class MimicLayout(WfdbLayout):
    """The records listed in ``record_list.csv``."""

    dataset = "mimic-iv-ecg"

    def tables(self, root: Path) -> list[Path]:
        """The record list (when absent, ``scan`` says so)."""
        return [root / RECORD_LIST] if (root / RECORD_LIST).is_file() else []

    def folders(self, root: Path) -> list[Path]:
        """None: the cache is keyed by the record list's bytes, not by a stat of the tree's
        1.6 million files (minutes on a network filesystem, on every load). The release is
        immutable; after changing record files in place, delete the cache to rebuild it."""
        return []

    def scan(self, root: Path) -> Scan:
        """One record per row of the record list; rows without a study id or path are bad."""
        table = read_record_list(root)
        records, bad = [], []
        pairs = zip(table["study_id"], table["path"], strict=True)
        for line, (study, relative) in enumerate(pairs, 2):
            if not study.strip() or not relative.strip():
                bad.append((f"{RECORD_LIST} line {line}", "no study_id or path"))
                continue
            records.append(RecordRef(study.strip(), root / relative.strip(), self.dataset))
        return Scan(records, bad)

    def record_info(self, record: RecordRef, header: Header, leads: LeadMap) -> RecordInfo:
        """Rate and length from the header; the patient from the ``p<subject_id>`` folder."""
        subject = record.path.parent.parent.name
        return RecordInfo(
            rate=header.fs,
            length=header.sig_len,
            patient=subject[1:] if subject.startswith("p") else "",
            note=leads.note,
        )

    def read(self, record: RecordRef) -> np.ndarray:
        """The 12 leads in canonical order, NaN samples kept for the quality policy."""
        header, leads, _ = checked_header(record.path)
        return read_signals(record.path, header, leads, allow_nan=True)


@register_dataset
class MimicSource(ShardedSource):
    """MIMIC-IV-ECG: ~800k 12-lead ECGs of ~160k patients, 10 s at 500 Hz (sharded cache)."""

    name = "mimic-iv-ecg"
    download_page = "https://physionet.org/content/mimic-iv-ecg/1.0/"
    option_names = STORAGE_OPTIONS
    full_records = FULL_RECORDS

    def layout(self, root: Path, options: Mapping[str, str]) -> MimicLayout:
        """The record-list layout (no options of its own)."""
        return MimicLayout()
