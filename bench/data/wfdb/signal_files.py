"""Physical signals (mV, float32 [12, T] in canonical lead order) of one WFDB record of any
rate and length, whose samples sit in ``.dat`` files or in a Challenge ``.mat`` file.

A Challenge ``.mat`` is a MATLAB v4 file with one int16 variable ``val`` [signals, samples];
it is read with scipy (imported there, as wfdb is) and checked against its header (same
signals, same length). Plain format-16 ``.dat`` files are read with numpy; anything else, a
record whose signals are spread over several files (PTB's 12 leads in ``.dat`` and vx, vy, vz
in ``.xyz``) included, through ``wfdb.rdrecord``, which reads the files of the 12 leads. Values
are ``(digital - baseline) / gain``, converted to mV from the header's units
(``bench.data.wfdb.records``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.data.layout import RecordError
from bench.data.wfdb.leads import LeadMap
from bench.data.wfdb.records import Header, read_format16, unit_scales

MAT_VARIABLE = "val"


def read_signals(path: Path, header: Header, leads: LeadMap, allow_nan: bool = False) -> np.ndarray:
    """The 12 canonical leads of record ``path`` (no extension) in mV, float32 [12, T].

    NaN or infinite samples are a RecordError unless ``allow_nan`` (the caller then applies
    its own policy, e.g. the sharded caches' skip-and-report).
    """
    order = list(leads.order)
    files = list(dict.fromkeys(header.file_name[i] for i in order))
    for name in files:
        if not (path.parent / name).is_file():
            raise RecordError(f"missing on disk: {name} not found")
    data_file = path.parent / files[0]
    scales = unit_scales(header, order, path.name)[:, None]
    try:
        if len(files) > 1 or len(set(header.file_name)) > 1:
            for name in files:
                _check_format16_size(path.parent / name, header)
            physical = _read_with_wfdb(path, header, order)
        elif data_file.suffix.lower() == ".mat":
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
        raise RecordError(f"{', '.join(files)} contains {bad} NaN or infinite samples")
    return signals


def _check_format16_size(data_file: Path, header: Header) -> None:
    """RecordError when ``data_file`` holds plain format-16 signals but fewer bytes than its
    header's signals x samples (other formats: wfdb checks them)."""
    rows = [i for i, name in enumerate(header.file_name) if name == data_file.name]
    plain = all(
        header.fmt[i] == "16" and header.samps_per_frame[i] == 1 and header.byte_offset[i] == 0
        for i in rows
    )
    expected = header.sig_len * len(rows) * 2
    size = data_file.stat().st_size
    if plain and size < expected:
        raise RecordError(f"truncated {data_file.name}: {size} bytes, expected {expected}")


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
    """The signals at ``order`` read by wfdb (only the files holding them), [leads, T]."""
    import wfdb

    try:
        record = wfdb.rdrecord(str(path), channels=order, physical=True)
    except (ValueError, IndexError, TypeError) as error:  # wfdb's errors for damaged files
        raise RecordError(f"unreadable signal file of {path.name}: {error}") from None
    signals = np.asarray(record.p_signal, dtype=np.float64)
    if signals.shape[0] != header.sig_len:
        raise RecordError(
            f"truncated signal file of {path.name}: {signals.shape[0]} of {header.sig_len} samples"
        )
    return signals.T
