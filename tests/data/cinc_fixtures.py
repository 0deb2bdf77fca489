"""Writers of small datasets in the official CinC 2020/2021 and CPSC 2018 layouts.

CinC records are a WFDB header (``NAME.mat 16x1+24 <gain>(0)/mV ...``) plus a MATLAB v4 ``val``
(int16 [leads, samples]) written with scipy.io.savemat(format="4"), as the Challenge ships them.
Signals are drawn on the 1/gain grid, so the stored values are exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.io

CINC_LEADS: tuple[str, ...] = (
    "I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6",
)  # fmt: skip
FOLDER_2021: dict[str, str] = {
    "A": "cpsc_2018", "Q": "cpsc_2018_extra", "I": "st_petersburg_incart", "S": "ptb",
    "HR": "ptb-xl", "E": "georgia", "JS": "chapman_shaoxing",
}  # fmt: skip


def random_mv(rng: np.random.Generator, leads: int, length: int, gain: float = 1000.0):
    """Random signals in mV on the 1/gain grid (exact in int16 after x gain)."""
    return (rng.integers(-3000, 3000, size=(leads, length)) / gain).astype(np.float64)


def write_cinc_record(
    folder: Path,
    name: str,
    signals: np.ndarray,
    rate: int = 500,
    leads: Sequence[str] = CINC_LEADS,
    comments: Sequence[str] = ("Age: 77", "Sex: Female", "Dx: 164889003,59118001"),
    gain: float = 1000.0,
    unit: str = "mV",
    header_samples: int | None = None,
) -> None:
    """Write ``signals`` (mV, [leads, T]) as ``NAME.hea`` + ``NAME.mat`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    digital = np.round(signals * gain).astype(np.int16)
    scipy.io.savemat(folder / f"{name}.mat", {"val": digital}, format="4")
    samples = digital.shape[1] if header_samples is None else header_samples
    lines = [f"{name} {len(leads)} {rate} {samples}"]
    for row, lead in enumerate(leads):
        values = digital[min(row, len(digital) - 1)]
        checksum = int(values.astype(np.int64).sum()) & 0xFFFF
        lines.append(
            f"{name}.mat 16x1+24 {gain:.1f}(0)/{unit} 16 0 {values[0]} {checksum} 0 {lead}"
        )
    lines += [f"# {comment}" for comment in comments]
    lines += ["# Rx: Unknown", "# Hx: Unknown", "# Sx: Unknown"]
    (folder / f"{name}.hea").write_text("\n".join(lines) + "\n")


def cinc_folder(root: Path, name: str, layout: str = "2021") -> Path:
    """Where record ``name`` lives: ``training/<source>/g1`` (2021) or ``<source>`` (2020)."""
    prefix = "HR" if name.startswith("HR") else "JS" if name.startswith("JS") else name[0]
    source = FOLDER_2021[prefix]
    return root / "training" / source / "g1" if layout == "2021" else root / source


def write_cpsc_original(
    root: Path, signals: dict[str, np.ndarray], labels: dict[str, Sequence[int]], ages=None
) -> None:
    """The original CPSC 2018 release: ``TrainingSet/NAME.mat`` (v5 struct ``ECG``) and
    ``REFERENCE.csv`` (Recording, First_label, Second_label, Third_label)."""
    folder = root / "TrainingSet"
    folder.mkdir(parents=True, exist_ok=True)
    for index, (name, data) in enumerate(signals.items()):
        age = (ages or {}).get(name, 50 + index)
        ecg = {"sex": "Male" if index % 2 else "Female", "age": age, "data": data}
        scipy.io.savemat(folder / f"{name}.mat", {"ECG": ecg}, format="5")
    rows = []
    for name, classes in labels.items():
        padded = [*classes, None, None, None][:3]
        rows.append(
            {"Recording": name, "First_label": padded[0], "Second_label": padded[1],
             "Third_label": padded[2]}
        )  # fmt: skip
    pd.DataFrame(rows).to_csv(root / "REFERENCE.csv", index=False, float_format="%.0f")


def write_cinc_tree(
    root: Path, records: dict[str, tuple[int, int]], seed: int = 0, layout: str = "2021"
) -> dict[str, np.ndarray]:
    """Records name -> (rate, samples) in the official tree; returns the signals in mV.
    S records (PTB) get PTB's 15 signals (the Frank leads vx, vy, vz after V6)."""
    rng = np.random.default_rng(seed)
    written = {}
    for name, (rate, samples) in records.items():
        leads = (*CINC_LEADS, "vx", "vy", "vz") if name.startswith("S") else CINC_LEADS
        signals = random_mv(rng, len(leads), samples)
        write_cinc_record(cinc_folder(root, name, layout), name, signals, rate, leads)
        written[name] = signals[:12]
    return written
