"""LUDB (Lobachevsky University Database, v1.0.1): 200 10-s 12-lead ECGs at 500 Hz with every
lead's P, QRS and T onset / peak / offset marked by cardiologists, and the diagnoses of ludb.csv.

Layout: ``ludb.csv`` and ``data/N.hea|.dat`` plus one annotation file per lead named after it
(``N.i``, ``N.ii``, ... read with wfdb's parser): peaks ``p``, ``N``, ``t`` with ``(`` / ``)``
just before / after marking onset / offset. A record lacking a lead's annotation file is bad.
Annotations are stored in the cache's ``annotations`` table (record_id, lead, wave P/QRS/T,
onset, peak, offset in samples at the cache rate; -1 where a boundary is not marked). Labels are
every diagnosis line of ludb.csv (rhythm, axis, conduction, hypertrophy, ...). Each record is
its own subject (200 records of 200 subjects).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from bench.data.layout import Annotation, RecordError, RecordInfo, RecordRef, Scan
from bench.data.loading import register_dataset
from bench.data.signals import CANONICAL_LEADS
from bench.data.storage.ragged_source import RaggedSource
from bench.data.wfdb.annotations import read_annotations
from bench.data.wfdb.header_comments import comment_fields, parse_age, parse_sex
from bench.data.wfdb.layout import WfdbLayout, find_headers
from bench.data.wfdb.leads import LeadMap
from bench.data.wfdb.records import Header
from bench.errors import DataError

TABLE = "ludb.csv"
WAVES: dict[str, str] = {"p": "P", "N": "QRS", "t": "T"}
NOT_DIAGNOSES = ("ID", "Sex", "Age")


def read_diagnoses(path: Path) -> dict[str, tuple[str, ...]]:
    """Record name -> every diagnosis line of ludb.csv (DataError if it cannot be read)."""
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as error:
        raise DataError(f"{path} cannot be read: {error}") from None
    if "ID" not in table.columns:
        raise DataError(f"{path} has no ID column")
    columns = [c for c in table.columns if c not in NOT_DIAGNOSES]
    return {
        str(row["ID"]).strip(): tuple(
            line.strip() for c in columns for line in row[c].splitlines() if line.strip()
        )
        for _, row in table.iterrows()
    }


def waves_from_symbols(lead: str, samples: list[int], symbols: list[str]) -> list[Annotation]:
    """Waves of one lead: each peak symbol with the ``(`` / ``)`` right before / after it."""
    waves: list[Annotation] = []
    for index, symbol in enumerate(symbols):
        if symbol not in WAVES:
            continue
        onset = samples[index - 1] if index > 0 and symbols[index - 1] == "(" else -1
        after = index + 1 < len(symbols) and symbols[index + 1] == ")"
        offset = samples[index + 1] if after else -1
        waves.append((lead, WAVES[symbol], int(onset), int(samples[index]), int(offset)))
    return waves


class LudbLayout(WfdbLayout):
    """LUDB's ``data/`` folder and ``ludb.csv``."""

    dataset = "ludb"

    def tables(self, root: Path) -> list[Path]:
        """ludb.csv."""
        return [root / TABLE]

    def scan(self, root: Path) -> Scan:
        """Every header below ``root``, labelled from ludb.csv."""
        if not (root / TABLE).is_file():
            raise DataError(f"LUDB table not found: {root / TABLE}")
        diagnoses = read_diagnoses(root / TABLE)
        records = [
            RecordRef(path.name, path, "ludb", diagnoses.get(path.name, ()))
            for path in find_headers(root)
        ]
        return Scan(records)

    def record_info(self, record: RecordRef, header: Header, leads: LeadMap) -> RecordInfo:
        """Age, sex, diagnoses and every lead's wave annotations."""
        fields = comment_fields(header.comments)
        annotations: list[Annotation] = []
        for canonical, position in zip(CANONICAL_LEADS, leads.order, strict=True):
            lead = header.sig_name[position]
            file = record.path.with_name(f"{record.name}.{lead}")
            if not file.is_file():
                raise RecordError(f"annotation file {file.name} of lead {lead} is missing")
            try:
                samples, symbols = read_annotations(record.path, lead)
            except (ValueError, IndexError, TypeError) as error:
                raise RecordError(f"unreadable annotation file {file.name}: {error}") from None
            annotations += waves_from_symbols(canonical, samples.tolist(), symbols)
        return RecordInfo(
            rate=header.fs,
            length=header.sig_len,
            age=parse_age(fields.get("age")),
            sex=parse_sex(fields.get("sex")),
            labels=record.labels,
            patient=record.name,
            note=leads.note,
            annotations=tuple(annotations),
        )


@register_dataset
class LudbSource(RaggedSource):
    """LUDB v1.0.1 (Kalyakulina et al., 2020): 200 annotated 10-s ECGs at 500 Hz."""

    name = "ludb"
    download_page = "https://physionet.org/content/ludb/1.0.1/"

    def layout(self, root: Path, options: Mapping[str, str]) -> LudbLayout:
        """The LUDB layout."""
        return LudbLayout()
