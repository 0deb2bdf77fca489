"""Read and check one WFDB record: float32 [leads, T] in canonical lead order, or a reason why not.

Headers are parsed with wfdb's own header grammar (``wfdb.io.header``; ``wfdb.rdheader`` costs
about 4 ms per file in pandas look-ups, most of a cold prepare). Signals stored in format 16 in
one file (PTB-XL's layout) are read straight from the .dat with numpy; any other layout goes
through ``wfdb.rdrecord``. Both give wfdb's physical values, ``(digital - baseline) / gain``,
then converted to mV from the header's units. wfdb is imported where a file is read, so the
record types load without it (a synthetic-only run, e.g. on a GPU machine without wfdb, never
reads a WFDB file).

Units and gains (policy): units mV, uV / µV and V (any case; none given means mV, as in WFDB)
are converted to mV, any other unit makes the record bad. A gain of 0 marks a signal as
uncalibrated in WFDB, and a header without a gain leaves it unstated; wfdb reads both at its
default gain 200, so their amplitudes are in no known unit. Such a record is bad unless the
caller accepts uncalibrated records; it is then read at gain 200 with a note.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.data.layout import RecordError
from bench.data.signals import CANONICAL_LEADS

WFDB_DEFAULT_FS = 250.0
WFDB_DEFAULT_GAIN = 200.0
UNIT_SCALE: dict[str, float] = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "v": 1e3}
"""Factor from each accepted unit (lower case) to mV."""
FORMAT16_NAN = -32768  # wfdb's digital value for a missing sample in format 16


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
    calibrated: tuple[bool, ...] = ()  # False where the gain is 0 or not given

    def unit(self, index: int) -> str:
        """The unit of signal ``index`` (mV where the header gives none)."""
        return self.units[index] if self.units else "mV"

    def uncalibrated(self, order: Sequence[int]) -> list[str]:
        """Names of the signals at ``order`` whose gain is 0 or not given."""
        flags = self.calibrated or (True,) * len(self.sig_name)
        return [self.sig_name[i] for i in order if not flags[i]]

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
        raw = header_file.read_bytes()
    except FileNotFoundError:
        raise RecordError(f"missing on disk: {header_file.name} not found") from None
    except OSError as error:
        raise RecordError(f"unreadable header {header_file.name}: {error}") from None
    try:
        text = raw.decode("utf-8")  # a "µV" written by a UTF-8 editor
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
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
        calibrated=tuple(float(m["adc_gain"] or 0) != 0 for m in signals),
    )


def unit_scales(header: Header, order: Sequence[int], record: str) -> np.ndarray:
    """Factor to mV of each signal at ``order``; RecordError for a unit other than mV, uV, V."""
    scales = []
    for index in order:
        unit = header.unit(index)
        scale = UNIT_SCALE.get(unit.lower())
        if scale is None:
            raise RecordError(
                f"{record}.hea: lead {header.sig_name[index]} is in unit {unit!r}; expected mV, "
                "uV (µV) or V"
            )
        scales.append(scale)
    return np.asarray(scales, dtype=np.float64)


def scaling_note(
    header: Header, order: Sequence[int], record: str, accept_uncalibrated: bool
) -> str:
    """What reading the signals at ``order`` in mV involves ("" when nothing but mV at known
    gains): a unit converted, or uncalibrated signals accepted. RecordError for an unknown unit,
    or for uncalibrated signals unless ``accept_uncalibrated``."""
    unit_scales(header, order, record)
    notes = []
    units = sorted({header.unit(i) for i in order if header.unit(i).lower() != "mv"})
    if units:
        notes.append(f"converted {', '.join(units)} to mV")
    uncalibrated = header.uncalibrated(order)
    if uncalibrated and not accept_uncalibrated:
        raise RecordError(
            f"{record}.hea: uncalibrated (gain 0 or none) for lead(s) {', '.join(uncalibrated)}, "
            "so its amplitudes are in no known unit; fix the gains, or accept such records "
            "at WFDB's default gain 200 with --uncalibrated accept (datasets wfdb, cinc2021)"
        )
    if uncalibrated:
        notes.append(
            f"uncalibrated lead(s) {', '.join(uncalibrated)} read at WFDB's default gain "
            f"{WFDB_DEFAULT_GAIN:g} (amplitudes not in mV)"
        )
    return "; ".join(notes)


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
    scaling_note(header, order, path.name, accept_uncalibrated=False)
    scales = unit_scales(header, order, path.name)
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
    if np.any(scales != 1.0):
        signals = (signals * scales[:, None]).astype(np.float32)
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
