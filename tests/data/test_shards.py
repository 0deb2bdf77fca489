"""Sharded compact caches: the int16 / float16 codec within its documented bound, the
memory-mapped sequence view, and a build killed mid-way that resumes to the same cache."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bench.data.formats.shards import ShardedRecords, decode, encode, error_bound, write_records
from bench.data.loading import DATASETS
from bench.data.storage import shards_write
from bench.data.storage.shards_build import partial_folder
from bench.errors import ConfigError
from tests.data.shard_fixtures import write_mimic

MIMIC = DATASETS.get("mimic-iv-ecg")
SMALL_SHARDS = {"shard_mb": "0.05"}  # 3 records of 12 x 1000 int16 samples per shard


def wide_range_signals(seed: int) -> np.ndarray:
    """Leads from microvolts to tens of millivolts, a spike, and an all-zero lead."""
    rng = np.random.default_rng(seed)
    signals = rng.normal(0, 1, (12, 2000)) * np.logspace(-3, 1.5, 12)[:, None]
    signals[3, 500] = 40.0
    signals[11] = 0.0
    return signals.astype(np.float32)


@pytest.mark.parametrize("storage", ["int16", "float16"])
def test_round_trip_error_within_the_documented_bound(storage: Any) -> None:
    for seed in range(5):
        signals = wide_range_signals(seed)
        stored, scales = encode(signals, storage)
        assert stored.dtype == np.dtype(storage) and scales.shape == (12,)
        decoded = decode(stored, scales)
        error = np.abs(decoded.astype(np.float64) - signals)
        assert np.all(error <= error_bound(signals, scales, storage))
        assert np.all(decoded[11] == 0)  # a zero lead decodes exactly
    if storage == "int16":  # the bound is tight: half a step of the lead's peak / 32767
        peak = np.abs(signals).max(axis=1)[:11]
        assert np.all(error.max(axis=1)[:11] > 0.3 * peak / 65534)


def test_the_view_is_a_sequence_of_float32_records(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    records = [rng.normal(size=(3, n)).astype(np.float32) for n in (50, 80, 60, 70, 90)]
    view = write_records(tmp_path / "c", records, shard_records=2)
    assert len(view) == 5 and view.shape == (5, 3, 90) and view.nbytes == 350 * 3 * 4
    assert sorted(p.name for p in (tmp_path / "c").glob("shard-*.npy"))[0] == "shard-00000.npy"
    for i, record in enumerate(records):
        assert view[i].dtype == np.float32 and view[i].shape == record.shape
        np.testing.assert_allclose(view[i], record, atol=np.abs(record).max() / 65534 + 1e-7)
    sub = view[np.array([4, 1])]
    assert isinstance(sub, ShardedRecords) and list(sub.lengths) == [90, 80]
    np.testing.assert_array_equal(sub[1], view[1])
    np.testing.assert_array_equal(view.crop(3, 10, 20), view[3][:, 10:30])
    assert view.crops(np.array([0, 2]), np.array([5, 0]), 40).shape == (2, 3, 40)
    with pytest.raises(IndexError, match="outside record 0"):
        view.crop(0, 40, 20)
    view[0]  # opens a memory map; the pickle carries none of it
    clone = pickle.loads(pickle.dumps(view))
    assert clone._shards == {} and np.array_equal(clone[2], view[2])
    memory = view.to_memory()
    assert len(memory) == 5 and np.array_equal(memory.record(4), view[4])


def test_a_union_of_views_reads_every_part_from_its_own_folder(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    first = [rng.normal(size=(2, n)).astype(np.float32) for n in (30, 40, 50)]
    second = [rng.normal(size=(2, n)).astype(np.float32) for n in (60, 70)]
    a = write_records(tmp_path / "a", first, shard_records=2)
    b = write_records(tmp_path / "b", second, "float16", shard_records=1)
    union = ShardedRecords.union([a[np.array([2, 0])], b])
    assert list(union.lengths) == [50, 30, 60, 70] and union.folders == (a.folder, b.folder)
    expected = [a[2], a[0], b[0], b[1]]
    for i, record in enumerate(expected):
        np.testing.assert_array_equal(union[i], record)
    nested = ShardedRecords.union([union[np.array([3])], a])
    np.testing.assert_array_equal(nested[0], b[1])
    np.testing.assert_array_equal(nested[3], a[2])
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(nested))[0], b[1])
    with pytest.raises(ValueError, match="same number of leads"):
        ShardedRecords.union([a, write_records(tmp_path / "c", [np.zeros((3, 9), np.float32)])])


def assert_same_cache(a: Any, b: Any) -> None:
    """Two prepared caches hold the same records, index, metadata and fingerprint."""
    assert a.data.fingerprint == b.data.fingerprint
    np.testing.assert_array_equal(a.data.signals.index, b.data.signals.index)
    pd.testing.assert_frame_equal(a.data.meta, b.data.meta)
    for i in range(len(a.data.signals)):
        np.testing.assert_array_equal(a.data.signals[i], b.data.signals[i])


def test_a_killed_build_resumes_to_the_same_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "mimic"
    write_mimic(root, 8, flat_records=(4,))
    whole = MIMIC.prepare(root, 100, tmp_path / "whole", jobs=1, options=SMALL_SHARDS)
    assert json.loads((whole.path / "manifest.json").read_text())["shards"] == 3

    real = shards_write.write_shard

    def killed_at_shard_2(layout: Any, job: Any) -> Any:
        if job.index == 2:
            raise KeyboardInterrupt  # the kill, after shards 0 and 1 landed
        return real(layout, job)

    monkeypatch.setattr(shards_write, "write_shard", killed_at_shard_2)
    with pytest.raises(KeyboardInterrupt):
        MIMIC.prepare(root, 100, tmp_path / "cache", jobs=1, options=SMALL_SHARDS)
    (final,) = [p for p in (tmp_path / "cache" / "mimic-iv-ecg").iterdir()]
    assert final.name.startswith(".partial-")  # nothing landed under a final name
    assert sorted(p.name for p in final.glob("shard-*.json")) == [
        "shard-00000.json",
        "shard-00001.json",
    ]
    written = {p.name: p.stat().st_mtime_ns for p in final.glob("shard-*")}
    (final / ".shard-00002.npy.123.abcd.tmp").write_bytes(b"half written")
    monkeypatch.setattr(shards_write, "write_shard", real)
    resumed = MIMIC.prepare(root, 100, tmp_path / "cache", jobs=1, options=SMALL_SHARDS)
    assert partial_folder(resumed.path) == final and not final.exists()
    manifest = json.loads((resumed.path / "manifest.json").read_text())
    assert manifest["resumed_shards"] == 2
    kept = {p.name: p.stat().st_mtime_ns for p in resumed.path.glob("shard-0000[01]*")}
    assert kept == written  # finished shards were not rewritten
    assert not list(resumed.path.glob(".*.tmp"))  # the killed build's half-written file went
    assert_same_cache(resumed, whole)


def test_a_damaged_finished_shard_is_rewritten_on_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "mimic"
    write_mimic(root, 8)
    whole = MIMIC.prepare(root, 100, tmp_path / "whole", jobs=1, options=SMALL_SHARDS)
    real = shards_write.write_shard

    def killed(layout: Any, job: Any) -> Any:
        if job.index == 2:
            raise RuntimeError("killed")
        return real(layout, job)

    monkeypatch.setattr(shards_write, "write_shard", killed)
    with pytest.raises(RuntimeError, match="killed"):
        MIMIC.prepare(root, 100, tmp_path / "cache", jobs=1, options=SMALL_SHARDS)
    monkeypatch.setattr(shards_write, "write_shard", real)
    (partial,) = list((tmp_path / "cache" / "mimic-iv-ecg").iterdir())
    data = partial / "shard-00000.npy"
    blob = bytearray(data.read_bytes())
    blob[-1] ^= 0xFF  # same size, wrong checksum
    data.write_bytes(bytes(blob))
    resumed = MIMIC.prepare(root, 100, tmp_path / "cache", jobs=1, options=SMALL_SHARDS)
    assert json.loads((resumed.path / "manifest.json").read_text())["resumed_shards"] == 1
    assert_same_cache(resumed, whole)


def test_float16_storage_and_bad_options(tmp_path: Path) -> None:
    root = tmp_path / "mimic"
    expected = write_mimic(root, 2)
    prepared = MIMIC.prepare(root, None, tmp_path / "cache", jobs=1, options={"storage": "float16"})
    assert prepared.data.signals.storage == "float16"
    np.testing.assert_allclose(
        prepared.data.signals[0], expected["40000000"], rtol=2**-11, atol=1e-6
    )
    int16 = MIMIC.prepare(root, None, tmp_path / "cache", jobs=1)
    assert int16.path != prepared.path  # the storage is part of the source fingerprint
    with pytest.raises(ConfigError, match="--storage 'int8' is not one of int16, float16"):
        MIMIC.prepare(root, None, tmp_path / "cache", options={"storage": "int8"})
    with pytest.raises(ConfigError, match="--shard-mb must be positive"):
        MIMIC.prepare(root, None, tmp_path / "cache", options={"shard_mb": "0"})
