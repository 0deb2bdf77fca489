"""PhysioNet/CinC Challenge 2021 training tree (also the 2020 layout): eight sources, WFDB
headers with MATLAB v4 ``val`` signals, SNOMED CT codes in ``# Dx:``.

Root: the ``training/`` folder or its parent; every ``*.hea`` below it is a record (2021:
``training/<source>/g1/...``; 2020: one flat folder per source). A record's source comes from
its name prefix (A cpsc, Q cpsc-extra, I incart, S ptb, HR ptbxl, E georgia); the JS prefix is
shared by Chapman-Shaoxing and Ningbo, told apart by their folder (``chapman_shaoxing``,
``ningbo``) or, in a folder that does not say (a flat copy), by the 2021 id ranges: JS00001-
JS10646 chapman, JS10647-JS45551 ningbo. A JS id outside both is ``chapman-ningbo`` with a note.
Option ``sources``: a comma-separated choice (e.g. ``cpsc,georgia,chapman,ningbo``). Option
``dx_tables``: a folder holding the Challenge mapping CSVs; codes in none of them are then noted
per record (records are kept). Option ``uncalibrated``: ``accept`` reads records with a gain of
0 (or none) at WFDB's default gain, with a note (default ``refuse``: they are bad records).

The id ranges are a checked assumption: the 2021 Challenge describes the JS tranche so, and its
counts agree. In the organisers' cinc2021 dx tables, the Chapman_Shaoxing column's rhythm
labels (one per record: SB 3,889, NSR 1,826, AF 1,780, STach 1,568, SVT 587, AFL 445, ATach
121, AVNRT 16, AVRT 8, SAAWR 7) add up to 10,247 records. That is the Chapman-Shaoxing count,
held in the 10,646 ids of its range (the Chapman-Shaoxing database has 10,646 patients; the
Challenge left 399 out, so the range has gaps). Ningbo's range holds exactly its 34,905
records, and 10,247 + 34,905 = 45,152 JS records in all. AF (1,780 vs 0) and VPB (294 vs 0)
occur in Chapman-Shaoxing alone.

No patient ids: every record is its own group for the folds. Aliases (documented assumptions,
checked by ``bench data overlap``): HRnnnnn is PTB-XL ``ecg_id`` nnnnn, Annnn is CPSC 2018 Annnn.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from bench.data.identity import global_id
from bench.data.layout import RecordInfo, RecordRef, Scan
from bench.data.loading import register_dataset
from bench.data.storage.ragged_source import RaggedSource
from bench.data.wfdb.header_comments import comment_fields, parse_age, parse_dx, parse_sex
from bench.data.wfdb.layout import WfdbLayout, find_headers, parse_uncalibrated
from bench.data.wfdb.leads import LeadMap
from bench.data.wfdb.records import Header
from bench.errors import ConfigError, DataError

SOURCES: tuple[str, ...] = (
    "cpsc", "cpsc-extra", "incart", "ptb", "ptbxl", "georgia", "chapman", "ningbo",
)  # fmt: skip
PREFIX_SOURCES: dict[str, str] = {
    "A": "cpsc", "Q": "cpsc-extra", "I": "incart", "S": "ptb", "HR": "ptbxl", "E": "georgia",
}  # fmt: skip
JS_FOLDERS: dict[str, str] = {"chapmanshaoxing": "chapman", "ningbo": "ningbo"}
SHARED_JS = "chapman-ningbo"
JS_RANGES: dict[str, range] = {"chapman": range(1, 10647), "ningbo": range(10647, 45552)}
"""The 2021 training set's JS ids of each source (see the module docstring)."""
NAME_PATTERN = re.compile(r"^([A-Z]+)(\d+)$")
DX_TABLE_GLOB = "*dx_mapping*.csv"


def record_source(name: str, folders: tuple[str, ...]) -> str | None:
    """The source of record ``name`` stored under ``folders`` (None if it is unknown)."""
    match = NAME_PATTERN.match(name)
    if match is None:
        return None
    prefix = match[1]
    if prefix in PREFIX_SOURCES:
        return PREFIX_SOURCES[prefix]
    if prefix != "JS":
        return None
    for folder in folders:
        key = re.sub(r"[^a-z]", "", folder.lower())
        if key in JS_FOLDERS:
            return JS_FOLDERS[key]
    number = int(match[2])
    return next((source for source, ids in JS_RANGES.items() if number in ids), SHARED_JS)


def record_aliases(name: str) -> tuple[str, ...]:
    """Global ids of the same ECG in other datasets (see the module docstring)."""
    match = NAME_PATTERN.match(name)
    if match is None:
        return ()
    if match[1] == "HR":
        return (global_id("ptbxl", int(match[2])),)
    if match[1] == "A":
        return (global_id("cpsc2018", name),)
    return ()


def known_codes(folder: Path) -> frozenset[str]:
    """Every SNOMED code in the Challenge mapping tables under ``folder``."""
    tables = sorted(folder.glob(DX_TABLE_GLOB))
    if not tables:
        raise DataError(f"no Challenge mapping tables ({DX_TABLE_GLOB}) in {folder}")
    codes: set[str] = set()
    for table in tables:
        frame = pd.read_csv(table, dtype=str)
        column = next(
            (c for c in frame.columns if c.replace(" ", "").lower() == "snomedctcode"), None
        )
        if column is None:
            raise DataError(f"{table} has no SNOMED CT code column")
        codes |= set(frame[column].dropna().str.strip())
    return frozenset(codes)


class CincLayout(WfdbLayout):
    """The Challenge tree, restricted to ``sources`` (all eight when empty)."""

    dataset = "cinc2021"

    def __init__(
        self, sources: tuple[str, ...], dx_tables: Path | None, accept_uncalibrated: bool = False
    ) -> None:
        self.sources = sources
        self.dx_tables = dx_tables
        self.codes = known_codes(dx_tables) if dx_tables else None
        self.accept_uncalibrated = accept_uncalibrated

    def options(self) -> dict[str, Any]:
        """The chosen sources, the Dx tables folder and the uncalibrated-record choice."""
        chosen = {"sources": list(self.sources), "dx_tables": str(self.dx_tables or "")}
        return {**chosen, **self.calibration_options()}

    def tables(self, root: Path) -> list[Path]:
        """The Dx mapping tables, when given."""
        return sorted(self.dx_tables.glob(DX_TABLE_GLOB)) if self.dx_tables else []

    def scan(self, root: Path) -> Scan:
        """Every record of the chosen sources; names of unknown form are bad."""
        base = root / "training" if (root / "training").is_dir() else root
        records, bad = [], []
        for path in find_headers(base):
            folders = path.relative_to(base).parts[:-1]
            source = record_source(path.name, folders)
            if source is None:
                bad.append((str(path.relative_to(root)), "not a CinC record name (e.g. A0001)"))
            elif (
                not self.sources
                or source in self.sources
                or (source == SHARED_JS and {"chapman", "ningbo"} & set(self.sources))
            ):
                records.append(RecordRef(path.name, path, source))
        return Scan(records, bad)

    def record_info(self, record: RecordRef, header: Header, leads: LeadMap) -> RecordInfo:
        """Age, sex and Dx codes from the header comments."""
        fields = comment_fields(header.comments)
        codes = parse_dx(fields.get("dx"), f"{record.name}.hea")
        notes = [leads.note] if leads.note else []
        unknown = [c for c in codes if self.codes is not None and c not in self.codes]
        if unknown:
            notes.append(f"unknown SNOMED codes {', '.join(unknown)}")
        if record.source == SHARED_JS:
            notes.append(
                "source unknown: a JS id outside the 2021 ranges of chapman (JS00001-JS10646) "
                "and ningbo (JS10647-JS45551), in a folder that names neither"
            )
        return RecordInfo(
            rate=header.fs,
            length=header.sig_len,
            age=parse_age(fields.get("age")),
            sex=parse_sex(fields.get("sex")),
            labels=codes,
            aliases=record_aliases(record.name),
            note="; ".join(notes),
        )


def parse_sources(value: str) -> tuple[str, ...]:
    """A ``--sources`` value as a tuple of source names (ConfigError naming a wrong one)."""
    chosen = tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
    wrong = [name for name in chosen if name not in SOURCES]
    if wrong:
        raise ConfigError(f"unknown CinC source(s) {wrong}; choose from {', '.join(SOURCES)}")
    return chosen


@register_dataset
class Cinc2021Source(RaggedSource):
    """PhysioNet/CinC 2020-2021: 88,253 12-lead ECGs of eight sources, 257-1000 Hz, 5 s-30 min."""

    name = "cinc2021"
    download_page = "https://physionet.org/content/challenge-2021/1.0.3/"
    option_names = ("sources", "dx_tables", "uncalibrated")

    def layout(self, root: Path, options: Mapping[str, str]) -> CincLayout:
        """The tree restricted to ``options['sources']``."""
        tables = options.get("dx_tables")
        return CincLayout(
            parse_sources(options.get("sources", "")),
            Path(tables) if tables else None,
            parse_uncalibrated(options.get("uncalibrated")),
        )
