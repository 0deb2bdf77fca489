"""cinc2021: the Challenge tree read into the variable-length cache, round-tripped."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from bench.data.formats.ragged import Ragged
from bench.data.loading import DATASETS
from bench.data.preprocess import resample
from bench.data.signals import CANONICAL_LEADS
from bench.data.storage import ragged_build
from bench.errors import ConfigError
from tests.data.cinc_fixtures import cinc_folder, random_mv, write_cinc_record, write_cinc_tree

CINC = DATASETS.get("cinc2021")
TREE = {
    "A0001": (500, 3000),
    "Q0001": (500, 4000),
    "I0001": (257, 2570),
    "S0001": (1000, 8000),
    "HR00001": (500, 5000),
    "E00001": (500, 5000),
    "JS00001": (500, 5000),
}


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    root = tmp_path / "cinc"
    return root, write_cinc_tree(root, TREE)


def test_round_trip_at_the_native_rate(tree, cache_root: Path) -> None:
    root, signals = tree
    prepared = CINC.prepare(root, 500, cache_root, jobs=1, options={"sources": "cpsc,ptbxl"})
    data = prepared.data
    assert data.sampling_rate == 500 and data.lead_names == CANONICAL_LEADS
    assert list(data.meta["record"]) == ["A0001", "HR00001"]
    assert isinstance(data.signals, Ragged)  # 6 s and 10 s records, stored unpadded
    assert data.lengths.tolist() == [3000, 5000]
    assert len(data.signals.flat) == 12 * 8000
    for row, name in enumerate(data.meta["record"]):
        np.testing.assert_allclose(data.signals.record(row), signals[name], atol=0.5e-3)
    meta = data.meta.set_index("record")
    assert meta.loc["A0001", "labels"] == ("164889003", "59118001")
    assert meta.loc["A0001", "age"] == 77 and meta.loc["A0001", "sex"] == "F"
    assert meta.loc["A0001", "source"] == "cpsc"
    assert meta.loc["HR00001", "aliases"] == ("ptbxl:1",)
    assert meta.loc["A0001", "global_id"] == "cinc2021:A0001"
    assert len(meta.loc["A0001", "signal_fingerprint"]) == 16


def test_rates_are_resampled_and_lengths_kept(tree, cache_root: Path) -> None:
    root, signals = tree
    data = CINC.prepare(root, 100, cache_root, jobs=2).data
    meta = data.meta.set_index("record")
    assert sorted(meta.index) == sorted(TREE)
    expected = {name: math.ceil(samples * 100 / rate) for name, (rate, samples) in TREE.items()}
    assert dict(zip(data.meta["record"], data.lengths.tolist(), strict=True)) == expected
    row = list(data.meta["record"]).index("I0001")
    want = resample(signals["I0001"][None].astype(np.float32), 257, 100, "poly")[0]
    np.testing.assert_allclose(data.signals.record(row), want, atol=1e-5)
    assert meta.loc["S0001", "note"] == "dropped signals vx, vy, vz"
    assert meta.loc["I0001", "native_rate"] == 257
    assert meta.loc["JS00001", "source"] == "chapman"


def test_2020_layout_and_demographics(tmp_path: Path, cache_root: Path) -> None:
    root = tmp_path / "cinc2020"
    rng = np.random.default_rng(1)
    comments = {
        "E00001": ("Age: NaN", "Sex: Unknown", "Dx: 426783006"),
        "E00002": ("Sex: Male", "Dx: 426783006,999999999"),
        "E00003": ("Age: 64", "Sex: female", "Dx: 164889003"),
    }
    written = {}
    for name, lines in comments.items():
        folder = cinc_folder(root, name, layout="2020")
        gain = 200.0 if name == "E00003" else 1000.0
        written[name] = random_mv(rng, 12, 2500, gain)
        write_cinc_record(folder, name, written[name], comments=lines, gain=gain)
    data = CINC.prepare(root, 500, cache_root, jobs=1).data
    np.testing.assert_allclose(data.signals[2], written["E00003"], atol=0.5 / 200)
    assert np.abs(written["E00003"]).max() > 10  # gain 200 reaches 15 mV: the gain was applied
    meta = data.meta.set_index("record")
    assert math.isnan(meta.loc["E00001", "age"]) and meta.loc["E00001", "sex"] == ""
    assert math.isnan(meta.loc["E00002", "age"]) and meta.loc["E00002", "sex"] == "M"
    assert meta.loc["E00003", "age"] == 64 and meta.loc["E00003", "sex"] == "F"
    assert meta.loc["E00002", "labels"] == ("426783006", "999999999")
    assert data.lengths.tolist() == [2500] * 3
    assert data.signals.shape == (3, 12, 2500)  # one length: a plain [N, 12, T] view


def test_unknown_codes_are_noted_with_the_dx_tables(tmp_path: Path, cache_root: Path) -> None:
    tables = tmp_path / "scoring"
    tables.mkdir()
    (tables / "dx_mapping_scored.csv").write_text("Dx,SNOMEDCTCode\nsinus rhythm,426783006\n")
    root = tmp_path / "cinc"
    write_cinc_record(
        root / "georgia", "E00001", random_mv(np.random.default_rng(2), 12, 500),
        comments=("Dx: 426783006,999999999",),
    )  # fmt: skip
    data = CINC.prepare(root, 500, cache_root, options={"dx_tables": str(tables)}).data
    assert data.meta["note"][0] == "unknown SNOMED codes 999999999"


def test_warm_load_reads_no_record_and_manifest_holds_folds(tree, cache_root, monkeypatch) -> None:
    root, _ = tree
    cold = CINC.prepare(root, 100, cache_root, jobs=1)

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("a warm load must not read records")

    monkeypatch.setattr(ragged_build, "map_chunks", fail)
    warm = CINC.prepare(root, 100, cache_root, jobs=1)
    assert cold.built and not warm.built and warm.path == cold.path
    assert warm.data.fingerprint == cold.data.fingerprint
    manifest = json.loads((cold.path / "manifest.json").read_text())
    assert manifest["folds"] == {
        "method": "stratified-grouped", "version": 1, "folds": 10, "seed": 0,
    }  # fmt: skip
    assert warm.data.fold_spec == manifest["folds"]
    assert manifest["notes"] == [{"record": "S0001", "note": "dropped signals vx, vy, vz"}]
    assert set(warm.data.meta["fold"]) <= set(range(1, 11))


def test_sources_option_and_environment(tree, cache_root: Path, monkeypatch) -> None:
    root, _ = tree
    with pytest.raises(ConfigError, match="unknown CinC source"):
        CINC.prepare(root, 100, cache_root, options={"sources": "cpsc,nowhere"})
    with pytest.raises(ConfigError, match="has no option"):
        CINC.prepare(root, 100, cache_root, options={"colour": "red"})
    monkeypatch.setenv("BENCH_CINC2021_SOURCES", "georgia")
    data = CINC.prepare(root, 100, cache_root, jobs=1).data
    assert list(data.meta["record"]) == ["E00001"]
