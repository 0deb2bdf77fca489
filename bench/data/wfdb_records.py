"""Read and check one WFDB record: float32 [leads, T] in canonical lead order, or a reason why not.

Headers are parsed with wfdb's own header grammar (``wfdb.io.header``; ``wfdb.rdheader`` costs
about 4 ms per file in pandas look-ups, most of a cold prepare). Signals stored in format 16 in
one file (PTB-XL's layout) are read straight from the .dat with numpy; any other layout goes
through ``wfdb.rdrecord``. Both give wfdb's physical values, ``(digital - baseline) / gain``.
wfdb is imported where a file is read, so the record types and ``RecordError`` load without it
(a synthetic-only run, e.g. on a GPU machine without wfdb, never reads a WFDB file).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.data.signals import CANONICAL_LEADS

WFDB_DEFAULT_FS = 250.0
WFDB_DEFAULT_GAIN = 200.0
FORMAT16_NAN = -32768  # wfdb's digital value for a missing sample in format 16


class RecordError(Exception):
    """A record is missing, malformed or fails a check; the message is the reason."""


@dataclass(frozen=True)
class RecordSpec:
    """What every record of a dataset folder must be: rate (Hz), length (samples), leads."""

    rate: int
    length: int
    leads: tuple[str, ...] = CANONICAL_LEADS


@dataclass(frozen=True)
class Header:
    """The fields of a single-segment WFDB header this reader uses (one entry per signal)."""

    fs: float
    sig_len: int
    sig_name: tuple[str, ...]
    file_name: tuple[str, ...]
    fmt: tuple[str, ...]
    samps_per_frame: tuple[int, ...]
    skew: tuple[int, ...]
    byte_offset: tuple[int, ...]
    adc_gain: tuple[float, ...]
    baseline: tuple[int, ...]
    units: tuple[str, ...] = ()
    comments: tuple[str, ...] = ()

    @property
    def is_plain_format16(self) -> bool:
        """True when all signals are interleaved 16-bit samples in one file from byte 0."""
        return (
            len(set(self.file_name)) == 1
            and set(self.fmt) == {"16"}
            and set(self.samps_per_frame) == {1}
            and set(self.skew) == {0}
            and set(self.byte_offset) == {0}
        )


def read_header(path: Path) -> Header:
    """Parse ``path`` + '.hea'; RecordError if it is missing or not a single-segment header."""
    from wfdb.io.header import parse_header_content, rx_record, rx_signal

    header_file = path.with_name(path.name + ".hea")
    try:
        text = header_file.read_text(encoding="latin-1")
    except FileNotFoundError:
        raise RecordError(f"missing on disk: {header_file.name} not found") from None
    except OSError as error:
        raise RecordError(f"unreadable header {header_file.name}: {error}") from None
    lines, comments = parse_header_content(text)
    record = rx_record.match(lines[0]) if lines else None
    if record is None:
        raise RecordError(f"unreadable header {header_file.name}: no valid record line")
    if record["n_seg"]:
        raise RecordError(f"multi-segment record in {header_file.name} is not supported")
    n_sig = int(record["n_sig"])
    signals = [m for m in map(rx_signal.match, lines[1 : n_sig + 1]) if m is not None]
    if len(signals) != n_sig:
        raise RecordError(f"unreadable header {header_file.name}: bad or missing signal lines")
    return Header(
        fs=float(record["fs"] or WFDB_DEFAULT_FS),
        sig_len=int(record["sig_len"] or 0),
        sig_name=tuple(m["sig_name"].strip() for m in signals),
        file_name=tuple(m["file_name"] for m in signals),
        fmt=tuple(m["fmt"] for m in signals),
        samps_per_frame=tuple(int(m["samps_per_frame"] or 1) for m in signals),
        skew=tuple(int(m["skew"] or 0) for m in signals),
        byte_offset=tuple(int(m["byte_offset"] or 0) for m in signals),
        adc_gain=tuple(float(m["adc_gain"] or 0) or WFDB_DEFAULT_GAIN for m in signals),
        baseline=tuple(_baseline(m["baseline"], m["adc_zero"]) for m in signals),
        units=tuple((m["units"] or "mV").strip() for m in signals),
        comments=tuple(comment.lstrip("#").strip() for comment in comments),
    )


def lead_order(names: tuple[str, ...], wanted: tuple[str, ...]) -> list[int]:
    """Index into ``names`` of each lead in ``wanted``, matching names case-insensitively."""
    canonical = {lead.lower(): lead for lead in wanted}
    unknown = [name for name in names if name.lower() not in canonical]
    if unknown:
        raise RecordError(f"unknown lead names {unknown}; expected {', '.join(wanted)}")
    lowered = [name.lower() for name in names]
    duplicated = sorted({name for name in names if lowered.count(name.lower()) > 1})
    if duplicated:
        raise RecordError(f"duplicate lead names {duplicated}")
    missing = [lead for lead in wanted if lead.lower() not in lowered]
    if missing:
        raise RecordError(f"has {len(names)} leads, missing {', '.join(missing)}")
    return [lowered.index(lead.lower()) for lead in wanted]


def read_record(path: Path, spec: RecordSpec) -> np.ndarray:
    """Signals of record ``path`` (no extension) as float32 [len(spec.leads), spec.length]."""
    header = read_header(path)
    if header.fs != spec.rate:
        raise RecordError(
            f"sampling rate {header.fs:g} Hz in its header, but its folder holds {spec.rate} Hz"
        )
    order = lead_order(header.sig_name, spec.leads)
    if header.sig_len != spec.length:
        raise RecordError(
            f"wrong length: {header.sig_len} samples, expected {spec.length} "
            f"({spec.length / spec.rate:g} s at {spec.rate} Hz)"
        )
    data_file = path.parent / header.file_name[0]
    if not data_file.is_file():
        raise RecordError(f"missing on disk: {data_file.name} not found")
    try:
        if header.is_plain_format16:
            signals = read_format16(data_file, header, order)
        else:
            signals = _read_with_wfdb(path, order, spec.length)
    except OSError as error:
        raise RecordError(f"unreadable {data_file.name}: {error}") from None
    bad = np.count_nonzero(np.isnan(signals))
    if bad:
        raise RecordError(f"contains {bad} NaN samples")
    return signals


def read_format16(data_file: Path, header: Header, order: list[int]) -> np.ndarray:
    """Physical values of the signals at ``order`` from a plain format-16 file, [leads, T]."""
    n_sig = len(header.sig_name)
    expected = header.sig_len * n_sig * 2
    size = data_file.stat().st_size
    if size < expected:
        raise RecordError(f"truncated {data_file.name}: {size} bytes, expected {expected}")
    digital = np.fromfile(data_file, dtype="<i2", count=header.sig_len * n_sig)
    digital = digital.reshape(header.sig_len, n_sig)[:, order].T
    baseline = np.asarray(header.baseline, dtype=np.float64)[order, None]
    gain = np.asarray(header.adc_gain, dtype=np.float64)[order, None]
    physical = (digital - baseline) / gain
    physical[digital == FORMAT16_NAN] = np.nan
    return physical.astype(np.float32)


def _read_with_wfdb(path: Path, order: list[int], length: int) -> np.ndarray:
    import wfdb

    try:
        record = wfdb.rdrecord(str(path), physical=True)
    except (ValueError, IndexError, TypeError) as error:  # wfdb's errors for damaged files
        raise RecordError(f"unreadable signal file: {error}") from None
    signals = np.asarray(record.p_signal, dtype=np.float32)
    if signals.shape[0] != length:
        raise RecordError(f"truncated signal file: {signals.shape[0]} of {length} samples")
    return np.ascontiguousarray(signals[:, order].T)


def _baseline(baseline: str, adc_zero: str) -> int:
    if baseline:
        return int(baseline)
    return int(adc_zero) if adc_zero else 0
