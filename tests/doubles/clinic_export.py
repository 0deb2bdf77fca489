"""The CSV export the add-a-dataset tutorial starts from (docs/tutorials/add-a-dataset.md):
``records.csv`` (record, patient, rate, diagnoses) and ``ecg/<record>.csv`` of samples in mV,
one column per lead in the order some carts export them (limb leads derived last)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

EXPORT_LEADS = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6", "III", "aVR", "aVL", "aVF")
DIAGNOSES = (("NORM",), ("AF",), ("RBBB",), ("AF", "RBBB"), ("LVH",), ("LVH", "PVC"))
SHIFTED_LEAD = {"AF": "II", "RBBB": "V1", "LVH": "V5"}  # a learnable offset per diagnosis


def write_clinic_export(
    root: Path, n_records: int = 100, seconds: float = 4.0, broken: str = "E0007", seed: int = 0
) -> Path:
    """Write the export under ``root`` (two records per patient, at 500 and 250 Hz) with one
    broken record: ``broken``'s V3 goes blank for a few samples (a lead-off). Returns root."""
    rng = np.random.default_rng(seed)
    (root / "ecg").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n_records):
        name, rate = f"E{i + 1:04d}", 500 if i % 2 == 0 else 250
        diagnoses = DIAGNOSES[i % len(DIAGNOSES)]
        samples = rng.normal(0.0, 0.1, size=(int(rate * seconds), len(EXPORT_LEADS)))
        for code in diagnoses:
            if code in SHIFTED_LEAD:
                samples[:, EXPORT_LEADS.index(SHIFTED_LEAD[code])] += 0.5
        table = pd.DataFrame(samples.round(4), columns=list(EXPORT_LEADS))
        if name == broken:
            table["V3"] = table["V3"].astype(object)
            table.loc[100:120, "V3"] = ""
        table.to_csv(root / "ecg" / f"{name}.csv", index=False)
        rows.append((name, f"P{i // 2 + 1:03d}", rate, ";".join(diagnoses)))
    records = pd.DataFrame(rows, columns=["record", "patient", "rate", "diagnoses"])
    records.to_csv(root / "records.csv", index=False)
    return root
