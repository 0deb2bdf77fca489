"""A user's own labelled ECGs, as the own-data tutorial starts from: a folder of 12-lead WFDB
records (``wfdb.wrsamp``, in subfolders per site) and a labels CSV (record, labels, qt_ms)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import wfdb

LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
CLASSES = ("AF", "NORM")


def write_own_data(root: Path, n_records: int = 40, seconds: float = 4.0, seed: int = 0) -> Path:
    """``root/ecgs/site{1,2}/recNNN.{hea,dat}`` at 250 Hz and ``root/labels.csv``; AF records
    carry an offset on lead I (learnable). Returns the labels CSV."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_records):
        name, site = f"rec{i:03d}", f"site{i % 2 + 1}"
        label = CLASSES[i % 2]
        signals = rng.integers(-200, 200, size=(12, int(250 * seconds))) / 200.0
        signals[0] += 0.8 if label == "AF" else -0.8
        folder = root / "ecgs" / site
        folder.mkdir(parents=True, exist_ok=True)
        wfdb.wrsamp(
            name, fs=250, units=["mV"] * 12, sig_name=list(LEADS),
            p_signal=np.ascontiguousarray(signals.T), fmt=["16"] * 12, adc_gain=[200.0] * 12,
            baseline=[0] * 12, write_dir=str(folder), comments=[f"Age: {40 + i}", "Sex: F"],
        )  # fmt: skip
        rows.append({"record": f"{site}/{name}", "labels": label, "qt_ms": 380 + 2 * i})
    labels = root / "labels.csv"
    pd.DataFrame(rows).to_csv(labels, index=False)
    return labels
