"""CPSC 2018 (China Physiological Signal Challenge): 6,877 12-lead ECGs, 500 Hz, 6-60 s,
nine rhythm / morphology classes.

Two layouts give the same records (global ids ``cpsc2018:A0001``...):
- the original release: ``REFERENCE.csv`` (Recording, First_label, Second_label, Third_label;
  classes 1-9) and the ``.mat`` files (MATLAB v5 struct ``ECG`` with ``sex``, ``age`` and
  ``data``, float64 [12, T] in mV, leads in the standard order) anywhere below the root
  (``TrainingSet/``, or the release's ``TrainingSet1-3/``);
- the CinC A-tranche (any root holding ``A*.hea`` + ``.mat``): SNOMED codes mapped to the nine
  classes (``CLASS_CODES``); codes outside them are ignored.
A record listed in REFERENCE.csv without a ``.mat`` file, or a ``.mat`` file not listed, is bad.
No patient ids: every record is its own group for the folds.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from bench.data.layout import Layout, RecordError, RecordInfo, RecordRef, Scan
from bench.data.loading import register_dataset
from bench.data.sources.cinc import CincLayout
from bench.data.storage.ragged_source import RaggedSource
from bench.data.wfdb.header_comments import parse_age, parse_sex
from bench.data.wfdb.leads import LeadMap
from bench.data.wfdb.records import Header
from bench.errors import DataError

REFERENCE = "REFERENCE.csv"
RATE = 500
CLASSES: dict[int, str] = {
    1: "Normal", 2: "AF", 3: "I-AVB", 4: "LBBB", 5: "RBBB", 6: "PAC", 7: "PVC", 8: "STD", 9: "STE",
}  # fmt: skip
CLASS_CODES: dict[str, str] = {
    "426783006": "Normal", "164889003": "AF", "270492004": "I-AVB", "164909002": "LBBB",
    "59118001": "RBBB", "284470004": "PAC", "164884008": "PVC", "429622005": "STD",
    "164931005": "STE",
}  # fmt: skip
LABEL_COLUMNS = ("First_label", "Second_label", "Third_label")


def read_reference(path: Path) -> dict[str, tuple[str, ...]]:
    """Record name -> class names of REFERENCE.csv (DataError naming a bad row or column)."""
    try:
        table = pd.read_csv(path, dtype=str)
    except (OSError, ValueError) as error:
        raise DataError(f"{path} cannot be read: {error}") from None
    missing = [c for c in ("Recording", *LABEL_COLUMNS[:1]) if c not in table.columns]
    if missing:
        raise DataError(f"{path} lacks the column(s) {missing}")
    labels: dict[str, tuple[str, ...]] = {}
    for row in table.itertuples(index=False):
        values = [getattr(row, c, None) for c in LABEL_COLUMNS if c in table.columns]
        codes = [str(v).strip() for v in values if isinstance(v, str) and v.strip()]
        wrong = [c for c in codes if not c.isdigit() or int(c) not in CLASSES]
        if wrong or not codes:
            raise DataError(f"{path}: record {row.Recording} has bad labels {codes}")
        labels[str(row.Recording).strip()] = tuple(CLASSES[int(c)] for c in codes)
    return labels


class OriginalLayout(Layout):
    """The original release (``.mat`` v5 structs and REFERENCE.csv)."""

    dataset = "cpsc2018"

    def tables(self, root: Path) -> list[Path]:
        """REFERENCE.csv."""
        return [root / REFERENCE]

    def scan(self, root: Path) -> Scan:
        """The records of REFERENCE.csv matched to the ``.mat`` files below ``root``."""
        labels = read_reference(root / REFERENCE)
        files = {path.stem: path for path in sorted(root.rglob("*.mat"))}
        records = [RecordRef(n, files[n], "cpsc", labels[n]) for n in labels if n in files]
        bad = [
            (f"{REFERENCE}: {n}", f"listed, but {n}.mat not found")
            for n in labels
            if n not in files
        ]
        bad += [
            (str(path.relative_to(root)), f"{REFERENCE} does not list {name}")
            for name, path in files.items()
            if name not in labels
        ]
        return Scan(records, bad)

    def describe(self, record: RecordRef) -> RecordInfo:
        """Length, age and sex from the struct (the data are loaded to learn the length)."""
        ecg = _load_struct(record.path)
        return RecordInfo(
            rate=RATE,
            length=_data(ecg, record.path).shape[1],
            age=parse_age(str(getattr(ecg, "age", ""))),
            sex=parse_sex(str(getattr(ecg, "sex", ""))),
            labels=record.labels,
        )

    def read(self, record: RecordRef) -> np.ndarray:
        """``ECG.data`` as float32 [12, T] in mV."""
        return _data(_load_struct(record.path), record.path).astype(np.float32)


def _load_struct(path: Path) -> object:
    import scipy.io  # here, not at import: listing tasks loads this module

    try:
        content = scipy.io.loadmat(str(path), squeeze_me=True, struct_as_record=False)
    except (OSError, ValueError, TypeError, NotImplementedError) as error:
        raise RecordError(f"unreadable {path.name}: {error}") from None
    if "ECG" not in content:
        held = sorted(key for key in content if not key.startswith("__"))
        raise RecordError(f"{path.name} has no struct 'ECG' (holds {held})")
    return content["ECG"]


def _data(ecg: object, path: Path) -> np.ndarray:
    data = np.asarray(getattr(ecg, "data", None), dtype=np.float64)
    if data.ndim != 2 or data.shape[0] != 12 or data.shape[1] == 0:
        raise RecordError(f"{path.name}: ECG.data has shape {data.shape}, expected [12, T]")
    if not np.isfinite(data).all():
        raise RecordError(f"{path.name}: ECG.data holds NaN or infinite values")
    return data


class CincTrancheLayout(CincLayout):
    """The CinC A-tranche, labelled with the nine CPSC classes."""

    dataset = "cpsc2018"

    def __init__(self) -> None:
        super().__init__(("cpsc",), None)

    def record_info(self, record: RecordRef, header: Header, leads: LeadMap) -> RecordInfo:
        """The CinC metadata with the codes mapped to CPSC classes (others ignored)."""
        info = super().record_info(record, header, leads)
        classes = tuple(dict.fromkeys(CLASS_CODES[c] for c in info.labels if c in CLASS_CODES))
        return RecordInfo(info.rate, info.length, info.age, info.sex, classes, note=info.note)


@register_dataset
class CPSC2018Source(RaggedSource):
    """CPSC 2018 from its original release or from the CinC A-tranche."""

    name = "cpsc2018"
    download_page = "http://2018.icbeb.org/Challenge.html"

    def layout(self, root: Path, options: Mapping[str, str]) -> Layout:
        """The original layout when REFERENCE.csv is there, else the CinC A-tranche."""
        return OriginalLayout() if (root / REFERENCE).is_file() else CincTrancheLayout()
