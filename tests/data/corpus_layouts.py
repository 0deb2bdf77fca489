"""Two generated corpus datasets in their official layouts, with a planted leak.

- a CinC 2021 tree (``training/chapman_shaoxing/g1/JS*``; MATLAB v4 + WFDB headers) of
  synthetic ECGs, plus HR records named after PTB-XL validation / test ``ecg_id``s (a leak by
  the HR -> PTB-XL id mapping);
- a WFDB folder (``wfdb`` source) of other synthetic ECGs, plus exact copies of PTB-XL test
  records (a leak by signal fingerprint, written in format 32 so the samples survive) and
  copies of CinC JS records (duplicates within the corpus).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import wfdb

from bench.data.synthetic.config import GeneratorConfig
from bench.data.synthetic.generator import generate
from tests.data.cinc_fixtures import CINC_LEADS, write_cinc_record

DX = ("Age: 60", "Sex: Male", "Dx: 426783006")


@dataclass(frozen=True)
class Planted:
    """Where the layouts are and what was planted."""

    cinc: Path
    wfdb: Path
    id_leaks: tuple[int, ...]  # PTB-XL ecg_ids of the HR records
    print_leaks: tuple[int, ...]  # PTB-XL ecg_ids copied into the WFDB folder
    duplicates: tuple[str, ...]  # CinC JS records copied into the WFDB folder


def write_wfdb(folder: Path, name: str, signals: np.ndarray, rate: int, fmt: str = "16") -> None:
    """``signals`` (mV, [12, T]) as WFDB record ``folder/name`` (format 16 at gain 1000, or
    format 32 at gain 1e6 for signals off the 1 µV grid)."""
    folder.mkdir(parents=True, exist_ok=True)
    gain = 1000.0 if fmt == "16" else 1e6
    wfdb.wrsamp(
        name, fs=rate, units=["mV"] * 12, sig_name=list(CINC_LEADS),
        p_signal=np.ascontiguousarray(signals.T, dtype=np.float64), fmt=[fmt] * 12,
        adc_gain=[gain] * 12, baseline=[0] * 12, write_dir=str(folder), comments=list(DX),
    )  # fmt: skip


def ecgs(n: int, seed: int, rate: int) -> np.ndarray:
    """``n`` synthetic 10-s ECGs at ``rate`` Hz in mV, on the 1 µV grid (exact in int16)."""
    signals = generate(GeneratorConfig(n_records=n, seed=seed, sampling_rate=rate)).signals
    return np.round(np.asarray(signals, np.float64), 3)


def write_corpus_layouts(
    root: Path,
    ptbxl_signals: dict[int, np.ndarray],
    id_leaks: Sequence[int],
    print_leaks: Sequence[int],
    n_cinc: int = 12,
    n_wfdb: int = 8,
    n_duplicates: int = 2,
    rate: int = 500,
    ptbxl_rate: int = 100,
) -> Planted:
    """Write both layouts under ``root``; ``ptbxl_signals`` maps ecg_id -> [12, T] (mV)."""
    cinc = root / "cinc"
    js = cinc / "training" / "chapman_shaoxing" / "g1"
    cinc_signals = ecgs(n_cinc, 11, rate)
    for i, signals in enumerate(cinc_signals):
        write_cinc_record(js, f"JS{i + 1:05d}", signals, rate, comments=DX)
    hr = cinc / "training" / "ptb-xl" / "g1"
    hr_signals = ecgs(len(id_leaks), 12, rate)
    for ecg_id, signals in zip(id_leaks, hr_signals, strict=True):
        write_cinc_record(hr, f"HR{ecg_id:05d}", signals, rate, comments=DX)
    folder = root / "wfdb"
    for i, signals in enumerate(ecgs(n_wfdb, 13, rate)):
        write_wfdb(folder / "site1", f"rec{i + 1:03d}", signals, rate)
    for ecg_id in print_leaks:
        write_wfdb(folder / "copied", f"ptbxl{ecg_id}", ptbxl_signals[ecg_id], ptbxl_rate, "32")
    duplicates = tuple(f"JS{i + 1:05d}" for i in range(n_duplicates))
    for i, name in enumerate(duplicates):
        write_wfdb(folder / "site2", f"dup{name}", cinc_signals[i], rate)
    return Planted(cinc, folder, tuple(id_leaks), tuple(print_leaks), duplicates)
