"""ludb-intervals: beat intervals from hand-made annotations, and on the real LUDB."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.data.loading import DATASETS
from bench.data.signals import CANONICAL_LEADS, SignalSet
from bench.data.sources.ludb import read_diagnoses, waves_from_symbols
from bench.data.wfdb.annotations import read_annotations
from bench.errors import DataError
from bench.task import TASKS
from tasks.ludb_intervals import TARGETS, LudbIntervals, record_intervals

RATE = 500  # 2 ms per sample


def beat(lead: str, peak: int, half_qrs: int, pr: int | None, qt: int | None) -> list[tuple]:
    """One beat's waves (lead, wave, onset, peak, offset): QRS of 2 * half_qrs samples, P onset
    ``pr`` samples before the QRS onset, T offset ``qt`` after it (None: no wave; -1: the
    T offset unmarked)."""
    onset = peak - half_qrs
    rows = [(lead, "QRS", onset, peak, peak + half_qrs)]
    if pr is not None:
        rows.append((lead, "P", onset - pr, onset - pr + 30, onset - pr + 60))
    if qt is not None:
        rows.append((lead, "T", peak + 100, peak + 150, onset + qt if qt > 0 else -1))
    return rows


def table(*records: list[tuple]) -> pd.DataFrame:
    rows = [(rid, *wave) for rid, waves in enumerate(records, start=1) for wave in waves]
    columns = ["record_id", "lead", "wave", "onset", "peak", "offset"]
    return pd.DataFrame(rows[::-1], columns=columns)  # unsorted on purpose


def lead_ii() -> list[tuple]:
    """RR 800, 800, 1000 ms; QRS 100 ms; PR 160 ms; QT 400 ms, with gaps."""
    waves = beat("II", 1000, 25, None, 200)  # no P: no PR
    waves += beat("II", 1400, 25, 80, 200)
    waves.append(("II", "P", 1205, 1225, 1245))  # a non-conducted P before the real one
    first, *rest = beat("II", 1800, 25, 80, 200)
    waves += [(*first[:2], -1, *first[3:]), *rest]  # QRS onset unmarked: no QRS, PR, QT
    waves += beat("II", 2300, 25, 80, -1)  # T offset unmarked: no QT
    return waves


def lead_v1() -> list[tuple]:
    """RR 800, 800 ms; QRS 140 ms; PR 200 ms (not on beat 2, which has no P); QT 440 ms."""
    return (
        beat("V1", 1002, 35, 100, 220)
        + beat("V1", 1402, 35, None, 220)
        + beat("V1", 1802, 35, 100, 220)
    )


def test_intervals_of_a_hand_made_record() -> None:
    targets = record_intervals(table(lead_ii() + lead_v1()), RATE)
    # pooled beats: RR 800 x4, 1000 -> 75 bpm; PR 160, 160, 200, 200 (beat 2 of V1 does not
    # borrow beat 1's P); QRS 100 x3, 140 x3; QT 400, 400, 440 x3
    assert targets.loc[1].tolist() == [75.0, 180.0, 120.0, 440.0]
    only_ii = record_intervals(table(lead_ii() + lead_v1()), RATE, leads=("II",))
    assert only_ii.loc[1].tolist() == [75.0, 160.0, 100.0, 400.0]
    assert tuple(targets.columns) == TARGETS
    assert record_intervals(table(lead_ii()), RATE, leads=("V6",)).empty


def test_records_with_an_undefined_target_are_dropped() -> None:
    no_p = beat("II", 1000, 25, None, 200) + beat("II", 1400, 25, None, 200)
    one_beat = beat("II", 1000, 25, 80, 200)
    meta = pd.DataFrame({"record_id": [1, 2, 3, 4], "patient_id": [1, 2, 3, 4], "fold": [1] * 4})
    data = SignalSet(
        "ludb", np.zeros((4, 12, 10), np.float32), meta, RATE, CANONICAL_LEADS, "x",
        tables={"annotations": table(lead_ii(), no_p, one_beat)},
    )  # fmt: skip
    task = TASKS.get("ludb-intervals")
    assert (task.kind, task.main_metric, task.group, task.higher_is_better) == (
        "regression", "r2", "ludb", True,
    )  # fmt: skip
    attached = task.attach(data)  # record 4 has no annotation at all
    assert attached.record_ids.tolist() == [1] and attached.label_names == TARGETS
    np.testing.assert_array_equal(attached.labels, [[75.0, 160.0, 100.0, 400.0]])
    with pytest.raises(DataError, match="annotations table"):
        LudbIntervals().labels(SignalSet("ludb", data.signals, meta, RATE, CANONICAL_LEADS, "x"))


def plausible(targets: pd.DataFrame) -> None:
    kept = targets.dropna()
    assert kept["heart_rate_bpm"].between(30, 200).all()
    assert kept["qrs_ms"].between(40, 200).all()
    assert kept["pr_ms"].between(80, 400).all() and kept["qt_ms"].between(250, 600).all()


def no_pr_expected(diagnoses: tuple[str, ...]) -> bool:
    """Atrial fibrillation or flutter (no P waves) or a pacemaker (no conducted P annotated)."""
    return any(
        text in line for line in diagnoses for text in ("fibrillation", "flutter", "Pacemaker")
    )


@pytest.mark.data
def test_real_ludb_records_have_plausible_intervals(ludb_root: Path) -> None:
    names = [str(n) for n in range(1, 21)]
    waves = []
    for rid, name in enumerate(names, start=1):
        for lead in ("i", "ii", "v1", "v5"):
            samples, symbols = read_annotations(ludb_root / "data" / name, lead)
            waves += [(rid, *w) for w in waves_from_symbols(lead, samples.tolist(), symbols)]
    frame = pd.DataFrame(waves, columns=["record_id", "lead", "wave", "onset", "peak", "offset"])
    targets = record_intervals(frame, RATE)
    plausible(targets)
    diagnoses = read_diagnoses(ludb_root / "ludb.csv")
    expected = [no_pr_expected(diagnoses[name]) for name in names]
    assert targets["pr_ms"].isna().tolist() == expected
    assert targets.drop(columns="pr_ms").notna().all(axis=None)


@pytest.mark.data
@pytest.mark.slow
def test_the_task_on_the_prepared_ludb(ludb_root: Path, tmp_path: Path) -> None:
    data = DATASETS.get("ludb").prepare(ludb_root, 100, tmp_path / "cache").data
    targets = record_intervals(data.tables["annotations"], data.sampling_rate)
    plausible(targets)
    diagnoses = read_diagnoses(ludb_root / "ludb.csv")
    names = data.meta.set_index("record_id")["record"]
    dropped = [no_pr_expected(diagnoses[names[rid]]) for rid in targets.index]
    assert targets.isna().any(axis=1).tolist() == dropped
    attached = TASKS.get("ludb-intervals").attach(data)
    assert len(attached.record_ids) == 200 - sum(dropped)
