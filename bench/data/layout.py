"""The contract between a dataset's file layout and the shared cache builders, and the error a
bad record raises (``RecordError``, whatever its format).

A ``Layout`` finds the records under a root (``scan``), describes one record cheaply
(``describe``: rate, length, demographics, labels, annotations; no signal read where the format
allows) and reads its signals (``read``: float32 [12, T] in mV at the native rate, canonical lead
order). Both raise ``RecordError`` for a bad record; the builder applies the bad-record policy.
Layouts are plain picklable objects: worker processes call them.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

Annotation = tuple[str, str, int, int, int]
"""(lead, wave, onset, peak, offset) in samples at the native rate; -1 where not marked."""


class RecordError(Exception):
    """A record is missing, malformed or fails a check; the message is the reason."""


@dataclass(frozen=True)
class RecordRef:
    """One record found by ``scan``: unique ``name``, where it lives, its source (tranche) and
    any labels a table outside the record gave it (REFERENCE.csv, a labels CSV)."""

    name: str
    path: Path
    source: str
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class RecordInfo:
    """What ``describe`` learns about a record before its signals are read.

    ``aliases`` are global ids of the same ECG in other datasets (e.g. "ptbxl:1" for CinC's
    HR00001); ``patient`` is "" where the dataset has no patient ids; ``note`` is reported
    (e.g. dropped leads) without making the record bad.
    """

    rate: float
    length: int
    age: float = math.nan
    sex: str = ""
    labels: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    patient: str = ""
    note: str = ""
    annotations: tuple[Annotation, ...] = ()


@dataclass(frozen=True)
class Scan:
    """The records of a root, plus (file, reason) of entries that name no usable record."""

    records: list[RecordRef]
    bad: list[tuple[str, str]] = field(default_factory=list)


class Layout(ABC):
    """One official layout (or user folder) of a dataset; see the module docstring."""

    dataset: str

    @abstractmethod
    def scan(self, root: Path) -> Scan:
        """Every record under ``root`` (DataError when the layout itself is wrong)."""

    @abstractmethod
    def describe(self, record: RecordRef) -> RecordInfo:
        """Rate, length and metadata of ``record`` (RecordError if it is bad)."""

    @abstractmethod
    def read(self, record: RecordRef) -> np.ndarray:
        """Signals of ``record``: float32 [12, length] in mV, canonical order (RecordError)."""

    def options(self) -> dict[str, Any]:
        """The layout's settings, hashed into the cache's source fingerprint."""
        return {}

    def tables(self, root: Path) -> list[Path]:
        """Files outside the records that the cache depends on (hashed by their bytes)."""
        return []

    def folders(self, root: Path) -> list[Path]:
        """Folders whose files' (path, size, mtime) decide whether a cache is still valid."""
        return [root]
