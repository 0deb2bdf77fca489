"""Writers of WFDB records with the quirks real folders have, written byte by byte as the
official layouts hold them: PTB Diagnostic's two signal files (12 leads in ``.dat``, the Frank
leads vx, vy, vz in ``.xyz``; format 16, gain 2000, no units), units other than mV (``uV``,
``µV`` in a UTF-8 header, ``V``) and uncalibrated gains of 0."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

PTB_LEADS: tuple[str, ...] = (
    "i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6", "vx", "vy", "vz",
)  # fmt: skip
PTB_COMMENTS: tuple[str, ...] = (
    "age: 81", "sex: female", "ECG date: 01/10/1990", "Reason for admission: Myocardial infarction",
)  # fmt: skip


def write_digital(
    folder: Path,
    name: str,
    digital: np.ndarray,
    leads: Sequence[str],
    rate: int,
    gain: str,
    unit: str = "",
    files: Sequence[str] | None = None,
    comments: Sequence[str] = (),
) -> None:
    """Write int16 ``digital`` [signals, T] in format 16 and its header: signal i in file
    ``files[i]`` (default ``NAME.dat`` for all), gain and unit written as given ("2000", "0",
    "1000" with unit "uV" -> ``1000/uV``), the header in UTF-8."""
    folder.mkdir(parents=True, exist_ok=True)
    files = list(files or [f"{name}.dat"] * len(leads))
    for file in dict.fromkeys(files):
        rows = [i for i, f in enumerate(files) if f == file]
        digital[rows].T.astype("<i2").tofile(folder / file)
    lines = [f"{name} {len(leads)} {rate} {digital.shape[1]}"]
    units = f"/{unit}" if unit else ""
    for row, lead in enumerate(leads):
        first, checksum = int(digital[row, 0]), int(digital[row].astype(np.int64).sum())
        lines.append(f"{files[row]} 16 {gain}{units} 16 0 {first} {checksum & 0xFFFF} 0 {lead}")
    lines += [f"# {comment}" for comment in comments]
    (folder / f"{name}.hea").write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_ptb_record(
    root: Path, patient: str, name: str, digital: np.ndarray, rate: int = 1000
) -> Path:
    """A PTB Diagnostic ECG Database record ``<patient>/<name>`` from int16 ``digital``
    [15, T]: the 12 leads in ``NAME.dat``, vx, vy, vz in ``NAME.xyz``; returns its path."""
    files = [f"{name}.dat"] * 12 + [f"{name}.xyz"] * 3
    folder = root / patient
    write_digital(folder, name, digital, PTB_LEADS, rate, "2000", "", files, PTB_COMMENTS)
    return folder / name


def random_digital(seed: int, signals: int, samples: int) -> np.ndarray:
    """Random int16 samples [signals, T] in a plausible ECG range at gain 1000-2000."""
    rng = np.random.default_rng(seed)
    return rng.integers(-3000, 3000, size=(signals, samples)).astype(np.int16)
