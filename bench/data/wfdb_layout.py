"""Shared reading of WFDB-header datasets (CinC, LUDB, any WFDB folder): find the headers,
check rate, length and leads, read the signals; subclasses add what their comments hold."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from bench.data.layout import Layout, RecordInfo, RecordRef
from bench.data.leads import LeadMap, map_leads
from bench.data.wfdb_records import Header, RecordError, read_header
from bench.data.wfdb_signals import read_signals


def find_headers(folder: Path) -> list[Path]:
    """Every ``*.hea`` below ``folder`` (recursive, symlinks followed), as paths without
    extension, sorted."""
    found = []
    for directory, _, files in os.walk(folder, followlinks=True):
        found += [Path(directory) / name[:-4] for name in files if name.endswith(".hea")]
    return sorted(found)


def checked_header(path: Path) -> tuple[Header, LeadMap]:
    """The header of ``path`` and its lead map; RecordError for a rate or length of 0."""
    header = read_header(path)
    if header.sig_len <= 0:
        raise RecordError(f"{path.name}.hea gives no signal length")
    if header.fs <= 0:
        raise RecordError(f"{path.name}.hea gives no sampling rate")
    try:
        leads = map_leads(header.sig_name)
    except RecordError as error:
        raise RecordError(f"{path.name}.hea {error}") from None
    return header, leads


class WfdbLayout(Layout):
    """A layout whose records are WFDB headers; ``record_info`` adds the comments' content."""

    def describe(self, record: RecordRef) -> RecordInfo:
        """Rate, length, notes and (via ``record_info``) metadata from the header alone."""
        header, leads = checked_header(record.path)
        return self.record_info(record, header, leads)

    def record_info(self, record: RecordRef, header: Header, leads: LeadMap) -> RecordInfo:
        """Metadata of one record; the default knows only rate, length and table labels."""
        return RecordInfo(
            rate=header.fs, length=header.sig_len, labels=record.labels, note=leads.note
        )

    def read(self, record: RecordRef) -> np.ndarray:
        """The 12 canonical leads in mV at the native rate."""
        header, leads = checked_header(record.path)
        return read_signals(record.path, header, leads)
