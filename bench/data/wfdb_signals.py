"""Physical signals (mV, float32 [12, T] in canonical lead order) of one WFDB record of any
rate and length, whose samples sit in a ``.dat`` file or in a Challenge ``.mat`` file.

A Challenge ``.mat`` is a MATLAB v4 file with one int16 variable ``val`` [signals, samples];
it is read with scipy (imported there, as wfdb is) and checked against its header (same
signals, same length). Plain format-16 ``.dat`` files are read with numpy, anything else
through ``wfdb.rdrecord``. Units are matched case-insensitively (mV, uV); values are
``(digital - baseline) / gain``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.data.leads import LeadMap
from bench.data.wfdb_records import Header, RecordError, read_format16

UNIT_SCALE: dict[str, float] = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3}
MAT_VARIABLE = "val"


def unit_scales(header: Header, record: str) -> np.ndarray:
    """Factor to mV of every signal; RecordError for units other than mV / uV."""
    scales = []
    units = header.units or ("mV",) * len(header.sig_name)
    for lead, unit in zip(header.sig_name, units, strict=True):
        scale = UNIT_SCALE.get(unit.lower())
        if scale is None:
            raise RecordError(f"{record}.hea: lead {lead} is in unit {unit!r}; expected mV or uV")
        scales.append(scale)
    return np.asarray(scales, dtype=np.float64)


def read_signals(path: Path, header: Header, leads: LeadMap, allow_nan: bool = False) -> np.ndarray:
    """The 12 canonical leads of record ``path`` (no extension) in mV, float32 [12, T].

    NaN or infinite samples are a RecordError unless ``allow_nan`` (the caller then applies
    its own policy, e.g. the sharded caches' skip-and-report).
    """
    if len(set(header.file_name)) != 1:
        raise RecordError(f"{path.name}.hea: signals spread over several files")
    data_file = path.parent / header.file_name[0]
    if not data_file.is_file():
        raise RecordError(f"missing on disk: {data_file.name} not found")
    order = list(leads.order)
    scales = unit_scales(header, path.name)[order, None]
    try:
        if data_file.suffix.lower() == ".mat":
            physical = _read_mat(data_file, header, order)
        elif header.is_plain_format16:
            physical = read_format16(data_file, header, order).astype(np.float64)
        else:
            physical = _read_with_wfdb(path, header, order)
    except OSError as error:
        raise RecordError(f"unreadable {data_file.name}: {error}") from None
    signals = (physical * scales).astype(np.float32)
    bad = int(np.count_nonzero(~np.isfinite(signals)))
    if bad and not allow_nan:
        raise RecordError(f"{data_file.name} contains {bad} NaN or infinite samples")
    return signals


def _read_mat(data_file: Path, header: Header, order: list[int]) -> np.ndarray:
    import scipy.io

    try:
        content = scipy.io.loadmat(str(data_file))
    except (ValueError, TypeError, NotImplementedError) as error:
        raise RecordError(f"unreadable {data_file.name}: {error}") from None
    if MAT_VARIABLE not in content:
        held = sorted(key for key in content if not key.startswith("__"))
        raise RecordError(f"{data_file.name} has no variable {MAT_VARIABLE!r} (holds {held})")
    digital = np.asarray(content[MAT_VARIABLE])
    expected = (len(header.sig_name), header.sig_len)
    if digital.ndim != 2 or digital.shape != expected:
        raise RecordError(
            f"{data_file.name} holds {MAT_VARIABLE} of shape {digital.shape}, but its header "
            f"says {expected[0]} signals x {expected[1]} samples"
        )
    baseline = np.asarray(header.baseline, dtype=np.float64)[order, None]
    gain = np.asarray(header.adc_gain, dtype=np.float64)[order, None]
    return (digital[order].astype(np.float64) - baseline) / gain


def _read_with_wfdb(path: Path, header: Header, order: list[int]) -> np.ndarray:
    import wfdb

    try:
        record = wfdb.rdrecord(str(path), physical=True)
    except (ValueError, IndexError, TypeError) as error:  # wfdb's errors for damaged files
        raise RecordError(f"unreadable signal file of {path.name}: {error}") from None
    signals = np.asarray(record.p_signal, dtype=np.float64)
    if signals.shape[0] != header.sig_len:
        raise RecordError(
            f"truncated signal file of {path.name}: {signals.shape[0]} of {header.sig_len} samples"
        )
    return signals[:, order].T
