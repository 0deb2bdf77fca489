"""ludb-delineation labels: masks from onsets / offsets, the unscored range, unmarked
boundaries, and the task on the real LUDB (skipped without it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.data.preprocess import Preprocessing
from bench.errors import DataError
from bench.task import TASKS
from tasks.ludb import delineation_masks, lead_mask

COLUMNS = ["wave", "onset", "peak", "offset"]


def waves(*rows: tuple[str, int, int, int]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=COLUMNS)


def test_waves_fill_onset_to_offset_inside_the_annotated_range() -> None:
    mask = lead_mask(waves(("P", 2, 3, 4), ("QRS", 6, 7, 8), ("T", 10, 12, 13)), 16)
    assert mask.tolist() == [-1, -1, 1, 1, 1, 0, 2, 2, 2, 0, 3, 3, 3, 3, -1, -1]


def test_a_wave_without_its_onset_is_unscored_back_to_the_previous_wave() -> None:
    mask = lead_mask(waves(("P", 2, 3, 4), ("QRS", -1, 7, 8), ("T", 10, 12, 13)), 16)
    assert mask.tolist() == [-1, -1, 1, 1, 1, -1, -1, -1, -1, -1, 3, 3, 3, 3, -1, -1]
    last = lead_mask(waves(("QRS", 1, 2, 3), ("T", 5, 7, -1)), 10)
    assert last.tolist() == [-1, 2, 2, 2, -1, -1, -1, -1, -1, -1]


def test_masks_of_records_and_leads_and_bad_tables() -> None:
    table = pd.DataFrame(
        [(1, "II", "QRS", 1, 2, 3), (2, "I", "P", 0, 1, 1)],
        columns=["record_id", "lead", "wave", "onset", "peak", "offset"],
    )
    masks = delineation_masks(table, np.array([2, 1]), ("I", "II"), 5)
    assert masks.shape == (2, 2, 5) and masks.dtype == np.float32
    assert masks[1, 1].tolist() == [-1, 2, 2, 2, -1] and (masks[1, 0] == -1).all()
    assert masks[0, 0].tolist() == [1, 1, -1, -1, -1]
    with pytest.raises(DataError, match=r"unknown wave names \['U'\]"):
        delineation_masks(table.assign(wave="U"), np.array([1]), ("I",), 5)
    with pytest.raises(DataError, match="lacks the column"):
        delineation_masks(table.drop(columns="onset"), np.array([1]), ("I",), 5)


def test_the_task_declares_its_kind_metric_and_fractions() -> None:
    task = TASKS.get("ludb-delineation")
    assert (task.kind, task.main_metric, task.higher_is_better) == (
        "segmentation",
        "mean_boundary_f1@150",
        True,
    )
    assert task.fractions == (0.1, 0.25, 0.5, 1.0)


@pytest.mark.data
@pytest.mark.slow
def test_real_ludb_masks_every_lead_of_every_record(
    ludb_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    data = TASKS.get("ludb-delineation").load(ludb_root, Preprocessing(rate=100))
    assert data.labels.shape == (200, 12, 1000)
    assert data.label_names == ("background", "P", "QRS", "T")
    shares = [float(np.mean(data.labels == c)) for c in (-1, 0, 1, 2, 3)]
    assert 0.2 < shares[0] < 0.35 and shares[3] > 0.05 and shares[2] > 0.05
    assert data.strata.shape == (200, 1)
    assert len(np.unique(data.patient_ids)) == 200  # one record per patient
    sizes = [len(data.split_indices(s)) for s in ("train", "val", "test")]
    assert sum(sizes) == 200 and min(sizes) >= 15
    lead_ii = data.labels[0, 1]
    scored = np.flatnonzero(lead_ii != -1)
    assert (lead_ii[scored[0] : scored[-1] + 1] != -1).mean() > 0.9
