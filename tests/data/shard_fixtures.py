"""Writers of small MIMIC-IV-ECG (WFDB tree + record_list.csv) and CODE-15% (HDF5 parts +
exams.csv) folders in their official layouts, with the real files' quirks."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import wfdb

CANONICAL = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
MIMIC_ORDER = ("I", "II", "III", "aVR", "aVF", "aVL", "V1", "V2", "V3", "V4", "V5", "V6")
MIMIC_GAIN = 200.0


def mimic_signals(rng: np.random.Generator, length: int) -> np.ndarray:
    """Canonical-order signals in mV on the 1/200 mV grid (exact in format 16)."""
    return (rng.integers(-600, 600, size=(12, length)) / MIMIC_GAIN).astype(np.float32)


def write_mimic_record(root: Path, subject: int, study: int, signals: np.ndarray, rate: int) -> str:
    """Write canonical-order ``signals`` in MIMIC's lead order; returns the record's path."""
    relative = f"files/p{str(subject)[:4]}/p{subject}/s{study}/{study}"
    folder = root / Path(relative).parent
    folder.mkdir(parents=True, exist_ok=True)
    order = [CANONICAL.index(lead) for lead in MIMIC_ORDER]
    wfdb.wrsamp(
        str(study),
        fs=rate,
        units=["mV"] * 12,
        sig_name=list(MIMIC_ORDER),
        p_signal=np.ascontiguousarray(signals[order].T, dtype=np.float64),
        fmt=["16"] * 12,
        adc_gain=[MIMIC_GAIN] * 12,
        baseline=[0] * 12,
        write_dir=str(folder),
    )
    return relative


def write_mimic(
    root: Path,
    n_records: int,
    rate: int = 500,
    seconds: float = 10.0,
    nan_records: Sequence[int] = (),
    flat_records: Sequence[int] = (),
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """A MIMIC-IV-ECG folder of ``n_records`` (two studies per subject); record ``i`` in
    ``nan_records`` gets NaN samples, in ``flat_records`` a flat aVL. Returns study -> signals."""
    rng = np.random.default_rng(seed)
    rows, expected = [], {}
    for i in range(n_records):
        subject, study = 10000000 + i // 2, 40000000 + i
        signals = mimic_signals(rng, round(rate * seconds))
        if i in nan_records:
            signals[3, 10:20] = np.nan
        if i in flat_records:
            signals[CANONICAL.index("aVL")] = 0.0
        relative = write_mimic_record(root, subject, study, signals, rate)
        rows.append(
            {
                "subject_id": subject,
                "study_id": study,
                "file_name": study,
                "ecg_time": "2180-07-23 08:44:00",
                "path": relative,
            }
        )
        expected[str(study)] = signals
    pd.DataFrame(rows).to_csv(root / "record_list.csv", index=False)
    return expected


def write_code15(
    root: Path,
    lengths: Sequence[Sequence[int]],
    padding_rows: int = 1,
    seed: int = 0,
    zero_rows: Sequence[int] = (),
) -> dict[str, np.ndarray]:
    """CODE-15% parts (one per entry of ``lengths``: true lengths of its exams), each with
    ``padding_rows`` exam_id-0 rows at the end; tracings zero-padded on both sides to 4096.
    Exam ids in ``zero_rows`` get an all-zero tracing. Returns exam id -> [12, T] signals."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    exams, expected, exam = [], {}, 1000
    for part, part_lengths in enumerate(lengths):
        n = len(part_lengths) + padding_rows
        tracings = np.zeros((n, 4096, 12), np.float32)
        ids = np.zeros(n, np.int64)
        for row, length in enumerate(part_lengths):
            exam += 1
            signals = rng.normal(0, 0.5, size=(12, length)).astype(np.float32)
            signals[:, 0] = signals[:, -1] = 0.3  # non-zero ends: the true length is kept
            if exam in zero_rows:
                signals[:] = 0
            left = (4096 - length) // 2
            tracings[row, left : left + length] = signals.T
            ids[row] = exam
            expected[str(exam)] = signals
            exams.append(
                {
                    "exam_id": exam,
                    "age": 50 + row,
                    "is_male": row % 2 == 0,
                    "nn_predicted_age": 51.0,
                    "1dAVb": False,
                    "RBBB": row % 3 == 0,
                    "LBBB": False,
                    "SB": False,
                    "ST": False,
                    "AF": row % 4 == 1,
                    "patient_id": 500 + exam // 2,
                    "death": "",
                    "timey": "",
                    "normal_ecg": row % 3 != 0,
                    "trace_file": f"exams_part{part}.hdf5",
                }
            )
        with h5py.File(root / f"exams_part{part}.hdf5", "w") as handle:
            handle.create_dataset("tracings", data=tracings)
            handle.create_dataset("exam_id", data=ids)
    pd.DataFrame(exams).to_csv(root / "exams.csv", index=False)
    return expected
