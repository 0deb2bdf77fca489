"""Shared reading of WFDB-header datasets (CinC, LUDB, any WFDB folder): find the headers,
check rate, length, leads, units and gains, read the signals; subclasses add what their
comments hold. A note on every record says what was dropped or converted (``RecordInfo.note``).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

from bench.data.layout import Layout, RecordError, RecordInfo, RecordRef
from bench.data.wfdb.leads import LeadMap, map_leads
from bench.data.wfdb.records import Header, read_header, scaling_note
from bench.data.wfdb.signal_files import read_signals
from bench.errors import ConfigError

UNCALIBRATED_CHOICES: tuple[str, ...] = ("refuse", "accept")


def find_headers(folder: Path) -> list[Path]:
    """Every ``*.hea`` below ``folder`` (recursive, symlinks followed), as paths without
    extension, sorted."""
    found = []
    for directory, _, files in os.walk(folder, followlinks=True):
        found += [Path(directory) / name[:-4] for name in files if name.endswith(".hea")]
    return sorted(found)


def checked_header(path: Path, accept_uncalibrated: bool = False) -> tuple[Header, LeadMap, str]:
    """The header of ``path``, its lead map and the note on its units and gains; RecordError
    for a rate or length of 0, missing leads, an unknown unit or (unless accepted)
    uncalibrated leads."""
    header = read_header(path)
    if header.sig_len <= 0:
        raise RecordError(f"{path.name}.hea gives no signal length")
    if header.fs <= 0:
        raise RecordError(f"{path.name}.hea gives no sampling rate")
    try:
        leads = map_leads(header.sig_name)
    except RecordError as error:
        raise RecordError(f"{path.name}.hea {error}") from None
    note = scaling_note(header, leads.order, path.name, accept_uncalibrated)
    return header, leads, note


def parse_uncalibrated(value: str | None) -> bool:
    """Whether an ``uncalibrated`` option accepts uncalibrated records (ConfigError if wrong)."""
    choice = (value or "refuse").strip().lower()
    if choice not in UNCALIBRATED_CHOICES:
        raise ConfigError(f"--uncalibrated {value!r}: choose {' or '.join(UNCALIBRATED_CHOICES)}")
    return choice == "accept"


class WfdbLayout(Layout):
    """A layout whose records are WFDB headers; ``record_info`` adds the comments' content.

    ``accept_uncalibrated`` reads records with a gain of 0 (or none) at WFDB's default gain,
    with a note, instead of refusing them.
    """

    accept_uncalibrated: bool = False

    def describe(self, record: RecordRef) -> RecordInfo:
        """Rate, length, notes and (via ``record_info``) metadata from the header alone."""
        header, leads, note = checked_header(record.path, self.accept_uncalibrated)
        info = self.record_info(record, header, leads)
        notes = "; ".join(part for part in (info.note, note) if part)
        return dataclasses.replace(info, note=notes)

    def record_info(self, record: RecordRef, header: Header, leads: LeadMap) -> RecordInfo:
        """Metadata of one record; the default knows only rate, length and table labels."""
        return RecordInfo(
            rate=header.fs, length=header.sig_len, labels=record.labels, note=leads.note
        )

    def read(self, record: RecordRef) -> np.ndarray:
        """The 12 canonical leads in mV at the native rate."""
        header, leads, _ = checked_header(record.path, self.accept_uncalibrated)
        return read_signals(record.path, header, leads)

    def calibration_options(self) -> dict[str, str]:
        """The ``uncalibrated`` option where it is not the default (hashed into the cache)."""
        return {"uncalibrated": "accept"} if self.accept_uncalibrated else {}
