"""Segmentation test doubles: toy beats with P / QRS / T bumps, their annotations table in the
``ludb`` source's layout, and a 12-lead dataset of them (``SegToySource``) for grid tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bench.data.loading import DatasetSource
from bench.data.signals import CANONICAL_LEADS, SignalSet
from tasks.ludb import LudbDelineation

# (wave, start, width, amplitude) within one beat of BEAT samples
BEAT = 60
WAVES = (("P", 4, 8, 0.3), ("QRS", 18, 6, 1.5), ("T", 34, 12, -0.6))


def toy_beats(
    n_records: int, length: int, n_leads: int = 12, seed: int = 0
) -> tuple[np.ndarray, pd.DataFrame]:
    """Signals float32 [N, leads, length] (beats every BEAT samples from a random phase, plus
    noise) and their annotations (record ids from 1; every lead marked alike)."""
    rng = np.random.default_rng(seed)
    signals = 0.05 * rng.standard_normal((n_records, n_leads, length)).astype(np.float32)
    rows = []
    for record in range(n_records):
        start = int(rng.integers(0, BEAT))
        for beat in range(start, length - BEAT, BEAT):
            for wave, offset, width, amplitude in WAVES:
                onset = beat + offset
                bump = amplitude * np.hanning(width + 2)[1:-1]
                signals[record, :, onset : onset + width] += bump.astype(np.float32)
                for lead in CANONICAL_LEADS[:n_leads]:
                    rows.append(
                        (record + 1, lead, wave, onset, onset + width // 2, onset + width - 1)
                    )
    columns = ["record_id", "lead", "wave", "onset", "peak", "offset"]
    return signals, pd.DataFrame(rows, columns=columns)


class SegToySource(DatasetSource):
    """60 five-second 12-lead records of toy beats at 100 Hz with an annotations table."""

    name = "seg-toy"
    needs_root = False

    def load(self, root: Path | None, rate: int | None, cache: Path) -> SignalSet:
        signals, annotations = toy_beats(60, 500)
        ids = np.arange(1, 61, dtype=np.int64)
        meta = pd.DataFrame({"record_id": ids, "patient_id": ids, "fold": (ids - 1) % 10 + 1})
        return SignalSet(
            name=self.name,
            signals=signals,
            meta=meta,
            sampling_rate=100,
            lead_names=CANONICAL_LEADS,
            fingerprint="seg-toy-1",
            tables={"annotations": annotations},
        )


class SegToyTask(LudbDelineation):
    """``ludb-delineation``'s labels on the toy beats."""

    name = "seg-toy-delineation"
    group = "seg-toy"
    dataset = "seg-toy"
