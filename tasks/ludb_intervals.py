"""``ludb-intervals``: heart rate and the PR, QRS and QT intervals of each LUDB record, regressed.

Targets come from the cardiologists' annotations (the ``annotations`` table of the ``ludb``
source, samples at the loaded rate, so at 100 Hz every boundary is rounded to 10 ms). Each beat
is measured within one lead, waves ordered by their peaks:
- RR: consecutive QRS peaks; ``heart_rate_bpm`` = 60,000 / the median RR (ms);
- PR: QRS onset minus the onset of the last P wave whose peak lies between the previous QRS
  peak and this QRS onset (a QRS without such a P, e.g. in atrial fibrillation, has no PR);
- QRS: QRS offset minus onset;
- QT: the offset of the first T wave whose peak lies between this QRS peak and the next one,
  minus the QRS onset.
Boundaries the annotators left unmarked (-1) drop that beat's value. Each target is the median
over the beats of all 12 leads pooled (``leads`` picks others, e.g. ("II",)); a record where any
target has no beat is dropped (on the real LUDB 24 of 200, the records without any annotated P
wave: 15 with atrial fibrillation, 3 with flutter, 6 more with ventricular pacing). Kind
regression, main metric R² (the mean over the four targets: unit-free, where a mean MAE would
mix bpm with ms; the per-target MAEs are in ``per_target_mae``), named in the tables'
headings. Folds are the source's patient folds (one record per patient); with 200 records the
task declares coarse label fractions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from bench.data.signals import SignalSet
from bench.errors import DataError
from bench.task import Labels, Task, register_task

TARGETS: tuple[str, ...] = ("heart_rate_bpm", "pr_ms", "qrs_ms", "qt_ms")
BEAT_VALUES: tuple[str, ...] = ("rr_ms", "pr_ms", "qrs_ms", "qt_ms")
COLUMNS: tuple[str, ...] = ("record_id", "lead", "wave", "onset", "peak", "offset")


def lead_beats(
    wave: np.ndarray, onset: np.ndarray, peak: np.ndarray, offset: np.ndarray, sampling_rate: int
) -> dict[str, np.ndarray]:
    """Every beat value (ms) of one lead's waves, given sorted by peak (``wave`` P / QRS / T)."""
    qrs, p, t = (wave == name for name in ("QRS", "P", "T"))
    q_on, q_peak, q_off = onset[qrs], peak[qrs], offset[qrs]
    ms = 1000.0 / sampling_rate
    values = {"rr_ms": np.diff(q_peak) * ms}
    values["qrs_ms"] = ((q_off - q_on) * ms)[(q_on >= 0) & (q_off >= 0)]
    previous = np.concatenate(([-np.inf], q_peak[:-1]))
    following = np.concatenate((q_peak[1:], [np.inf]))
    p_peak, p_on = peak[p], onset[p]
    last_p = np.searchsorted(p_peak, q_on, side="left") - 1  # last P peak before the onset
    has_p = (last_p >= 0) & (q_on >= 0)
    has_p[has_p] &= p_peak[last_p[has_p]] > previous[has_p]
    has_p[has_p] &= p_on[last_p[has_p]] >= 0
    values["pr_ms"] = (q_on[has_p] - p_on[last_p[has_p]]) * ms
    t_peak, t_off = peak[t], offset[t]
    first_t = np.searchsorted(t_peak, q_peak, side="right")  # first T peak after the QRS peak
    has_t = (first_t < len(t_peak)) & (q_on >= 0)
    has_t[has_t] &= t_peak[first_t[has_t]] < following[has_t]
    has_t[has_t] &= t_off[first_t[has_t]] >= 0
    values["qt_ms"] = (t_off[first_t[has_t]] - q_on[has_t]) * ms
    return values


def record_intervals(
    table: pd.DataFrame, sampling_rate: int, leads: Sequence[str] | None = None
) -> pd.DataFrame:
    """The four targets per record (index record_id, columns TARGETS; NaN where no beat has
    the value), each the median over the beats of ``leads`` (None: every lead) pooled."""
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise DataError(f"the annotations table lacks columns {missing}")
    if leads is not None:
        table = table[table["lead"].isin(leads)]
    if table.empty:
        return pd.DataFrame(columns=list(TARGETS), dtype=np.float64)
    table = table.sort_values(["record_id", "lead", "peak"], kind="stable")
    record, lead = table["record_id"].to_numpy(np.int64), table["lead"].to_numpy(str)
    wave = table["wave"].to_numpy(str)
    onset, peak, offset = (table[c].to_numpy(np.int64) for c in ("onset", "peak", "offset"))
    starts = np.flatnonzero(np.r_[True, (record[1:] != record[:-1]) | (lead[1:] != lead[:-1])])
    stops = np.r_[starts[1:], len(record)]
    pooled: dict[int, dict[str, list[np.ndarray]]] = {}
    for a, b in zip(starts, stops, strict=True):
        beats = lead_beats(wave[a:b], onset[a:b], peak[a:b], offset[a:b], sampling_rate)
        into = pooled.setdefault(int(record[a]), {k: [] for k in BEAT_VALUES})
        for key, values in beats.items():
            into[key].append(values)
    rows = {}
    for rid, beats in pooled.items():
        medians = [_median(np.concatenate(beats[k])) for k in BEAT_VALUES]
        rows[rid] = [60_000.0 / medians[0] if medians[0] > 0 else np.nan, *medians[1:]]
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(TARGETS))


def _median(values: np.ndarray) -> float:
    return float(np.median(values)) if len(values) else float("nan")


class LudbIntervals(Task):
    """Heart rate (bpm), PR, QRS and QT (ms) per LUDB record, from the annotations.

    The main metric is R² (mean over the four targets): unit-free, where a mean MAE would add
    bpm to ms; each target's MAE, RMSE and r are in every result.
    """

    name = "ludb-intervals"
    group = "ludb"
    dataset = "ludb"
    version = "1"
    kind = "regression"
    main_metric = "r2"
    fractions = (0.1, 0.25, 0.5, 1.0)

    def __init__(self, leads: Sequence[str] | None = None) -> None:
        self.leads = tuple(leads) if leads is not None else None

    def labels(self, data: SignalSet) -> Labels:
        """The four targets; records without annotations or with a target undefined dropped."""
        table = data.tables.get("annotations")
        if table is None:
            raise DataError(f"{self.name} needs the wave annotations table ({data.name})")
        targets = record_intervals(table, data.sampling_rate, self.leads)
        ids = data.meta["record_id"].to_numpy(np.int64)
        values = targets.reindex(ids).to_numpy(np.float64)
        keep = np.isfinite(values).all(axis=1)
        values = np.where(keep[:, None], values, 0.0).astype(np.float32)
        return Labels(values=values, names=TARGETS, keep=keep)


register_task(LudbIntervals())
