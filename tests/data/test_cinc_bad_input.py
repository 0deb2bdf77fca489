"""cinc2021 bad input: each fault gives a clear error naming the file, or is skipped and
reported, and never leaves a partial cache behind."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from bench.data.loading import DATASETS
from bench.errors import DataError
from tests.data.cinc_fixtures import CINC_LEADS, random_mv, write_cinc_record

CINC = DATASETS.get("cinc2021")


def cache_entries(cache_root: Path) -> list[str]:
    folder = cache_root / "cinc2021"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A 2021 tree with two good Georgia records (E00001, E00002)."""
    folder = tmp_path / "cinc" / "training" / "georgia" / "g1"
    rng = np.random.default_rng(0)
    for name in ("E00001", "E00002"):
        write_cinc_record(folder, name, random_mv(rng, 12, 1000))
    return tmp_path / "cinc"


def georgia(root: Path) -> Path:
    return root / "training" / "georgia" / "g1"


def fails_then_skips(root: Path, cache_root: Path, message: str) -> None:
    """The fault fails the build naming E00003, leaves nothing, and is skipped on request."""
    with pytest.raises(DataError, match=message) as error:
        CINC.prepare(root, 500, cache_root, jobs=1)
    assert "E00003" in str(error.value) and "--skip-bad-records" in str(error.value)
    assert cache_entries(cache_root) == []
    prepared = CINC.prepare(root, 500, cache_root, jobs=1, on_bad_record="skip")
    assert list(prepared.data.meta["record"]) == ["E00001", "E00002"]
    assert [bad.record_id for bad in prepared.skipped] == [3]
    assert re.search(message, prepared.skipped[0].reason)


def test_header_and_mat_disagree_in_length(root: Path, cache_root: Path) -> None:
    signals = random_mv(np.random.default_rng(1), 12, 1000)
    write_cinc_record(georgia(root), "E00003", signals, header_samples=1200)
    fails_then_skips(root, cache_root, r"E00003.mat holds val of shape \(12, 1000\)")


def test_header_and_mat_disagree_in_leads(root: Path, cache_root: Path) -> None:
    write_cinc_record(georgia(root), "E00003", random_mv(np.random.default_rng(1), 12, 1000))
    scipy.io.savemat(
        georgia(root) / "E00003.mat", {"val": np.zeros((8, 1000), np.int16)}, format="4"
    )
    fails_then_skips(root, cache_root, r"E00003.mat holds val of shape \(8, 1000\)")


def test_mat_without_val(root: Path, cache_root: Path) -> None:
    write_cinc_record(georgia(root), "E00003", random_mv(np.random.default_rng(1), 12, 1000))
    scipy.io.savemat(
        georgia(root) / "E00003.mat", {"ecg": np.zeros((12, 1000), np.int16)}, format="4"
    )
    fails_then_skips(root, cache_root, r"E00003.mat has no variable 'val'")


@pytest.mark.parametrize(
    ("comments", "message"),
    [
        (("Age: 50", "Dx: 4267830x6"), r"malformed '# Dx: 4267830x6'"),
        (("Age: 50", "Dx: "), r"malformed '# Dx: '"),
        (("Age: 50",), r"has no '# Dx:' line"),
    ],
)
def test_malformed_or_missing_dx(root: Path, cache_root: Path, comments, message: str) -> None:
    signals = random_mv(np.random.default_rng(1), 12, 1000)
    write_cinc_record(georgia(root), "E00003", signals, comments=comments)
    fails_then_skips(root, cache_root, message)


def test_lower_case_units_are_read(root: Path, cache_root: Path) -> None:
    signals = random_mv(np.random.default_rng(1), 12, 1000)
    write_cinc_record(georgia(root), "E00003", signals, unit="mv")
    data = CINC.prepare(root, 500, cache_root, jobs=1).data
    np.testing.assert_allclose(data.signals[2], signals, atol=0.5e-3)


def test_unknown_unit_is_bad(root: Path, cache_root: Path) -> None:
    write_cinc_record(
        georgia(root), "E00003", random_mv(np.random.default_rng(1), 12, 1000), unit="mmHg"
    )
    fails_then_skips(root, cache_root, r"is in unit 'mmHg'; expected mV, uV \(µV\) or V")


def test_one_signal_is_bad(root: Path, cache_root: Path) -> None:
    signals = random_mv(np.random.default_rng(1), 1, 1000)
    write_cinc_record(georgia(root), "E00003", signals, leads=("II",))
    fails_then_skips(root, cache_root, r"has 1 signal\(s\) \['II'\], missing lead\(s\) I, III")


def test_extra_signals_are_dropped_with_a_note(root: Path, cache_root: Path) -> None:
    signals = random_mv(np.random.default_rng(1), 14, 1000)
    write_cinc_record(georgia(root), "E00003", signals, leads=("Resp", *CINC_LEADS, "V7"))
    data = CINC.prepare(root, 500, cache_root, jobs=1).data
    np.testing.assert_allclose(data.signals[2], signals[1:13], atol=0.5e-3)
    assert data.meta["note"].tolist() == ["", "", "dropped signals Resp, V7"]


def test_a_duplicated_standard_lead_is_bad(root: Path, cache_root: Path) -> None:
    signals = random_mv(np.random.default_rng(1), 13, 1000)
    write_cinc_record(georgia(root), "E00003", signals, leads=(*CINC_LEADS, "v1"))
    fails_then_skips(root, cache_root, r"duplicate lead names \['v1'\]")


def test_duplicated_record_name_in_two_sources(root: Path, cache_root: Path) -> None:
    signals = random_mv(np.random.default_rng(1), 12, 1000)
    write_cinc_record(root / "training" / "ptb-xl" / "g1", "E00002", signals)
    with pytest.raises(DataError, match="duplicate record name E00002") as error:
        CINC.prepare(root, 500, cache_root, jobs=1)
    assert (
        "training/ptb-xl/g1/E00002: duplicate record name E00002: also at "
        "training/georgia/g1/E00002 (source georgia), which is kept"
    ) in str(error.value)
    assert cache_entries(cache_root) == []
    prepared = CINC.prepare(root, 500, cache_root, jobs=1, on_bad_record="skip")
    assert list(prepared.data.meta["file"]) == [
        "training/georgia/g1/E00001", "training/georgia/g1/E00002",
    ]  # fmt: skip


def test_empty_folder(tmp_path: Path, cache_root: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no cinc2021 records found under"):
        CINC.prepare(tmp_path / "empty", 500, cache_root)
    assert cache_entries(cache_root) == []


def test_no_usable_record(tmp_path: Path, cache_root: Path) -> None:
    folder = tmp_path / "cinc" / "georgia"
    write_cinc_record(folder, "E00001", random_mv(np.random.default_rng(1), 1, 100), leads=("I",))
    with pytest.raises(DataError, match=r"no usable cinc2021 records under .*\n1 of 1"):
        CINC.prepare(tmp_path / "cinc", 500, cache_root, on_bad_record="skip")
    assert cache_entries(cache_root) == []


def test_missing_mat_file(root: Path, cache_root: Path) -> None:
    write_cinc_record(georgia(root), "E00003", random_mv(np.random.default_rng(1), 12, 1000))
    (georgia(root) / "E00003.mat").unlink()
    fails_then_skips(root, cache_root, "missing on disk: E00003.mat not found")


def test_interrupt_leaves_no_cache(root: Path, cache_root: Path, monkeypatch) -> None:
    def interrupt(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("bench.data.storage.ragged_read._read_one", interrupt)
    with pytest.raises(KeyboardInterrupt):
        CINC.prepare(root, 500, cache_root, jobs=1)
    assert cache_entries(cache_root) == []


def test_gain_zero_is_bad_unless_accepted(root: Path, cache_root: Path) -> None:
    write_cinc_record(georgia(root), "E00003", random_mv(np.random.default_rng(1), 12, 1000))
    header = georgia(root) / "E00003.hea"
    header.write_text(header.read_text().replace(" 1000.0(0)/mV ", " 0(0)/mV "))
    fails_then_skips(root, cache_root, r"uncalibrated \(gain 0 or none\) for lead\(s\) I, II")
    options = {"uncalibrated": "accept"}
    data = CINC.prepare(root, 500, cache_root, jobs=1, options=options).data
    assert list(data.meta["record"]) == ["E00001", "E00002", "E00003"]
    assert data.meta["note"][2].startswith("uncalibrated lead(s) I, II, III")
