"""A tiny fake PTB-XL in the official layout, written with wfdb.wrsamp into tmp_path."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import wfdb

HEADER_LEADS = ("I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6")
STATEMENTS = pd.DataFrame(
    {
        "description": ["normal ECG", "inferior MI", "non-diagnostic T", "sinus rhythm", "AF"],
        "diagnostic": [1.0, 1.0, 1.0, None, None],
        "form": [None, None, 1.0, None, None],
        "rhythm": [None, None, None, 1.0, 1.0],
        "diagnostic_class": ["NORM", "MI", "STTC", None, None],
        "diagnostic_subclass": ["NORM", "IMI", "STTC", None, None],
    },
    index=pd.Index(["NORM", "IMI", "NDT", "SR", "AFIB"]),
)
CODES = ({"NORM": 100.0, "SR": 0.0}, {"IMI": 50.0, "NDT": 100.0, "AFIB": 0.0}, {"SR": 100.0})


@dataclass
class FakePTBXL:
    """A fake PTB-XL root: ``signals[ecg_id]`` is the expected [12, T] canonical-order array."""

    root: Path
    rng: np.random.Generator
    signals: dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def database_csv(self) -> Path:
        return self.root / "ptbxl_database.csv"

    def record(self, ecg_id: int, rate: int = 100) -> Path:
        """Path (no extension) of a record's WFDB files."""
        suffix = "lr" if rate == 100 else "hr"
        return self.root / f"records{rate}" / "00000" / f"{ecg_id:05d}_{suffix}"

    def database(self) -> pd.DataFrame:
        return pd.read_csv(self.database_csv)

    def write_database(self, table: pd.DataFrame) -> None:
        table.to_csv(self.database_csv, index=False)

    def random_signals(self, leads: int = 12, length: int = 1000) -> np.ndarray:
        """Random signals on the 0.001 mV grid, so that a gain of 1000 stores them exactly."""
        return (self.rng.integers(-2000, 2000, size=(leads, length)) / 1000).astype(np.float32)

    def write_record(
        self,
        ecg_id: int,
        signals: np.ndarray,
        rate: int = 100,
        lead_names: Sequence[str] = HEADER_LEADS,
        fs: int | None = None,
    ) -> None:
        """Write ``signals`` [leads, T] (physical units) as record ``ecg_id`` in format 16."""
        path = self.record(ecg_id, rate)
        path.parent.mkdir(parents=True, exist_ok=True)
        n_leads = signals.shape[0]
        wfdb.wrsamp(
            path.name,
            fs=fs or rate,
            units=["mV"] * n_leads,
            sig_name=list(lead_names),
            p_signal=np.ascontiguousarray(signals.T, dtype=np.float64),
            fmt=["16"] * n_leads,
            adc_gain=[1000.0] * n_leads,
            baseline=[0] * n_leads,
            write_dir=str(path.parent),
        )


def write_fake_ptbxl(
    root: Path, n_records: int = 6, rates: Sequence[int] = (100,), seed: int = 0
) -> FakePTBXL:
    """Write ``n_records`` 10-s records per rate, both CSVs, folds cycling 1-10."""
    fake = FakePTBXL(root, np.random.default_rng(seed))
    root.mkdir(parents=True, exist_ok=True)
    STATEMENTS.to_csv(root / "scp_statements.csv")
    rows = []
    for index in range(n_records):
        ecg_id = index + 1
        for rate in rates:
            signals = fake.random_signals(12, 10 * rate)
            fake.write_record(ecg_id, signals, rate)
            if rate == min(rates):
                fake.signals[ecg_id] = signals
        rows.append(
            {
                "ecg_id": ecg_id,
                "patient_id": float(1000 + index // 2),
                "age": 40.0 + index,
                "sex": index % 2,
                "scp_codes": repr(CODES[index % len(CODES)]),
                "strat_fold": index % 10 + 1,
                "filename_lr": f"records100/00000/{ecg_id:05d}_lr",
                "filename_hr": f"records500/00000/{ecg_id:05d}_hr",
            }
        )
    fake.write_database(pd.DataFrame(rows))
    return fake


@pytest.fixture(scope="session")
def _fake_templates(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple, FakePTBXL]:
    """Fake layouts written once per session (wfdb.wrsamp is slow) and copied per test."""
    return {}


@pytest.fixture
def fake_ptbxl(
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    _fake_templates: dict[tuple, FakePTBXL],
) -> Callable[..., FakePTBXL]:
    """Factory giving a private fake PTB-XL under tmp_path/ptbxl (see write_fake_ptbxl)."""

    def make(n_records: int = 6, rates: Sequence[int] = (100,), seed: int = 0) -> FakePTBXL:
        key = (n_records, tuple(rates), seed)
        if key not in _fake_templates:
            folder = tmp_path_factory.mktemp("fake-ptbxl-template") / "ptbxl"
            _fake_templates[key] = write_fake_ptbxl(folder, n_records, rates, seed)
        template = _fake_templates[key]
        root = tmp_path / "ptbxl"
        shutil.copytree(template.root, root)
        signals = {ecg_id: array.copy() for ecg_id, array in template.signals.items()}
        return FakePTBXL(root, np.random.default_rng(seed + 1), signals)

    return make


@pytest.fixture
def cache_root(tmp_path: Path) -> Path:
    """A cache folder that does not exist yet."""
    return tmp_path / "cache"
