"""One WFDB record: header parsing, lead matching, fast format-16 path and the wfdb fallback."""

from __future__ import annotations

import numpy as np
import pytest
import wfdb

from bench.data.layout import RecordError
from bench.data.signals import CANONICAL_LEADS
from bench.data.wfdb.records import RecordSpec, lead_order, read_header, read_record

SPEC = RecordSpec(rate=100, length=1000)


def test_header_fields_match_wfdb(fake_ptbxl) -> None:
    fake = fake_ptbxl(n_records=1)
    path = fake.record(1)
    ours = read_header(path)
    theirs = wfdb.rdheader(str(path))
    assert ours.fs == theirs.fs
    assert ours.sig_len == theirs.sig_len
    assert list(ours.sig_name) == theirs.sig_name
    assert list(ours.file_name) == theirs.file_name
    assert list(ours.fmt) == theirs.fmt
    assert list(ours.adc_gain) == theirs.adc_gain
    assert list(ours.baseline) == theirs.baseline
    assert ours.is_plain_format16


def test_fast_path_equals_wfdb_physical_values_in_canonical_order(fake_ptbxl) -> None:
    fake = fake_ptbxl(n_records=1)
    signals = fake.random_signals()
    shuffled = [11, 3, 0, 7, 1, 5, 2, 10, 4, 6, 9, 8]
    names = [CANONICAL_LEADS[i].lower() for i in shuffled]
    fake.write_record(2, signals[shuffled], lead_names=names)
    result = read_record(fake.record(2), SPEC)
    reference = wfdb.rdrecord(str(fake.record(2))).p_signal.T[np.argsort(shuffled)]
    assert result.dtype == np.float32
    assert result.shape == (12, 1000)
    np.testing.assert_array_equal(result, reference.astype(np.float32))
    np.testing.assert_array_equal(result, signals)


def test_other_formats_go_through_wfdb(fake_ptbxl) -> None:
    fake = fake_ptbxl(n_records=1)
    signals = fake.random_signals()
    path = fake.record(3)
    wfdb.wrsamp(
        path.name,
        fs=100,
        units=["mV"] * 12,
        sig_name=list(CANONICAL_LEADS),
        p_signal=signals.T.astype(np.float64),
        fmt=["212"] * 12,
        adc_gain=[1000.0] * 12,
        baseline=[0] * 12,
        write_dir=str(path.parent),
    )
    assert not read_header(path).is_plain_format16
    np.testing.assert_allclose(read_record(path, SPEC), signals, atol=1e-6)


def test_nan_samples_are_reported(fake_ptbxl) -> None:
    fake = fake_ptbxl(n_records=1)
    signals = fake.random_signals()
    signals[4, 10:13] = np.nan
    fake.write_record(2, signals)
    with pytest.raises(RecordError, match="3 NaN samples"):
        read_record(fake.record(2), SPEC)


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (("I", "II", "X1"), r"unknown lead names \['X1'\]"),
        (("I", "i", "II"), "duplicate lead names"),
        (("I", "II", "V1"), "has 3 leads, missing III"),
    ],
)
def test_lead_order_errors(names: tuple[str, ...], message: str) -> None:
    with pytest.raises(RecordError, match=message):
        lead_order(names, CANONICAL_LEADS)


def test_lead_order_is_case_insensitive() -> None:
    header = ("v6", "AVR", "I", "ii", "III", "avl", "aVF", "V1", "V2", "V3", "V4", "V5")
    order = lead_order(header, CANONICAL_LEADS)
    assert [header[i].lower() for i in order] == [lead.lower() for lead in CANONICAL_LEADS]


@pytest.mark.parametrize(("unit", "gain", "per_mv"), [("uV", 1.0, 1e3), ("V", 1e6, 1e-3)])
def test_units_are_read_in_mv(fake_ptbxl, unit: str, gain: float, per_mv: float) -> None:
    fake = fake_ptbxl(n_records=1)
    signals = fake.random_signals()
    path = fake.record(2)
    wfdb.wrsamp(
        path.name, fs=100, units=[unit] * 12, sig_name=list(CANONICAL_LEADS),
        p_signal=signals.T.astype(np.float64) * per_mv, fmt=["16"] * 12, adc_gain=[gain] * 12,
        baseline=[0] * 12, write_dir=str(path.parent),
    )  # fmt: skip
    np.testing.assert_allclose(read_record(path, SPEC), signals, atol=1e-6)


def test_a_gain_of_zero_is_refused(fake_ptbxl) -> None:
    fake = fake_ptbxl(n_records=1)
    path = fake.record(1)
    header = path.with_name(path.name + ".hea")
    lines = header.read_text().splitlines()
    lines[1] = lines[1].replace(" 1000.0(0)/mV ", " 0(0)/mV ")
    header.write_text("\n".join(lines) + "\n")
    assert read_header(path).uncalibrated(range(12)) == ["I"]
    with pytest.raises(RecordError, match=r"uncalibrated \(gain 0 or none\) for lead\(s\) I,"):
        read_record(path, SPEC)
