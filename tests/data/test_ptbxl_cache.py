"""PTB-XL cache: built once, reused while the source is unchanged, rebuilt when it changes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from bench.data.loading import DATASETS, load_dataset
from bench.data.signals import CANONICAL_LEADS
from bench.data.sources.ptbxl import choose_rate
from bench.data.wfdb import parallel_read

PTBXL = DATASETS.get("ptbxl")


def cache_folders(cache_root: Path) -> list[str]:
    """Every entry under <cache>/ptbxl, hidden temp folders included."""
    folder = cache_root / "ptbxl"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_cold_build_then_warm_reuse(fake_ptbxl, cache_root: Path) -> None:
    fake = fake_ptbxl(n_records=6)
    cold = PTBXL.prepare(fake.root, 100, cache_root, jobs=1)
    warm = PTBXL.prepare(fake.root, 100, cache_root, jobs=1)
    assert cold.built and not warm.built
    assert warm.path == cold.path
    assert warm.data.fingerprint == cold.data.fingerprint
    data = warm.data
    assert isinstance(data.signals, np.memmap) and not data.signals.flags.writeable
    assert data.signals.shape == (6, 12, 1000) and data.signals.dtype == np.float32
    assert data.lead_names == CANONICAL_LEADS and data.sampling_rate == 100
    for row, ecg_id in enumerate(data.meta["record_id"]):
        np.testing.assert_array_equal(data.signals[row], fake.signals[ecg_id])
    assert data.meta["patient_id"].tolist() == [1000, 1000, 1001, 1001, 1002, 1002]
    assert data.meta["fold"].tolist() == [1, 2, 3, 4, 5, 6]
    assert data.meta["scp_codes"][1] == {"IMI": 50.0, "NDT": 100.0, "AFIB": 0.0}
    assert data.meta["age"].tolist() == [40.0, 41.0, 42.0, 43.0, 44.0, 45.0]
    statements = data.tables["scp_statements"]
    assert statements.loc["IMI", "diagnostic_class"] == "MI"


def test_manifest_records_what_was_built(fake_ptbxl, cache_root: Path) -> None:
    fake = fake_ptbxl(n_records=3)
    prepared = PTBXL.prepare(fake.root, 100, cache_root, jobs=1)
    manifest = json.loads((prepared.path / "manifest.json").read_text())
    assert manifest["records"] == 3
    assert manifest["sampling_rate"] == 100
    assert manifest["content_fingerprint"] == prepared.data.fingerprint
    assert prepared.path.name == f"100hz-{manifest['source_fingerprint'][:16]}"
    assert manifest["skipped"] == []
    assert {"numpy", "pandas", "wfdb"} <= set(manifest["versions"])
    assert manifest["lead_names"] == list(CANONICAL_LEADS)


def test_warm_load_reads_no_record(fake_ptbxl, cache_root: Path, monkeypatch) -> None:
    fake = fake_ptbxl(n_records=3)
    PTBXL.prepare(fake.root, 100, cache_root, jobs=1)

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("a warm load must not read records")

    monkeypatch.setattr("bench.data.sources.ptbxl.read_records", fail)
    assert not PTBXL.prepare(fake.root, 100, cache_root).built


def test_changed_record_rebuilds_and_prunes_the_old_cache(fake_ptbxl, cache_root: Path) -> None:
    fake = fake_ptbxl(n_records=4)
    first = PTBXL.prepare(fake.root, 100, cache_root, jobs=1)
    changed = fake.random_signals()
    fake.write_record(2, changed)
    second = PTBXL.prepare(fake.root, 100, cache_root, jobs=1)
    assert second.built
    assert second.path != first.path
    assert second.data.fingerprint != first.data.fingerprint
    np.testing.assert_array_equal(second.data.signals[1], changed)
    assert cache_folders(cache_root) == [second.path.name]


def test_touching_a_file_changes_the_source_fingerprint(fake_ptbxl, cache_root: Path) -> None:
    fake = fake_ptbxl(n_records=2)
    first = PTBXL.prepare(fake.root, 100, cache_root, jobs=1)
    dat = fake.record(1).with_suffix(".dat")
    stat = dat.stat()
    os.utime(dat, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    second = PTBXL.prepare(fake.root, 100, cache_root, jobs=1)
    assert second.built and second.path != first.path
    assert second.data.fingerprint == first.data.fingerprint  # same content


def test_parallel_reading_gives_the_same_content(fake_ptbxl, cache_root: Path) -> None:
    fake = fake_ptbxl(n_records=8)
    serial = PTBXL.prepare(fake.root, 100, cache_root / "serial", jobs=1)
    parallel = PTBXL.prepare(fake.root, 100, cache_root / "parallel", jobs=2)
    assert parallel.data.fingerprint == serial.data.fingerprint
    np.testing.assert_array_equal(parallel.data.signals, serial.data.signals)


def test_interrupt_leaves_no_cache_and_no_temp_folder(
    fake_ptbxl, cache_root: Path, monkeypatch
) -> None:
    fake = fake_ptbxl(n_records=3)

    def interrupt(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(parallel_read, "read_record", interrupt)
    with pytest.raises(KeyboardInterrupt):
        PTBXL.prepare(fake.root, 100, cache_root, jobs=1)
    assert cache_folders(cache_root) == []


def test_load_dataset_uses_the_environment_root(fake_ptbxl, monkeypatch) -> None:
    fake = fake_ptbxl(n_records=2)
    monkeypatch.setenv("BENCH_PTBXL_ROOT", str(fake.root))
    data = load_dataset("ptbxl")
    assert data.name == "ptbxl" and len(data.signals) == 2


@pytest.mark.parametrize(
    ("available", "rate", "chosen"),
    [
        ([100, 500], 100, 100),
        ([100, 500], 500, 500),
        ([100, 500], 250, 500),
        ([100, 500], 50, 100),
        ([100, 500], 1000, 500),
        ([100, 500], None, 100),
        ([500], 100, 500),
        ([100], 500, 100),
    ],
)
def test_choose_rate(available: list[int], rate: int | None, chosen: int) -> None:
    assert choose_rate(available, rate) == chosen


def test_500hz_folder_is_used_for_higher_rates(fake_ptbxl, cache_root: Path) -> None:
    fake = fake_ptbxl(n_records=2, rates=(100, 500))
    high = PTBXL.prepare(fake.root, 250, cache_root, jobs=1)
    low = PTBXL.prepare(fake.root, 100, cache_root, jobs=1)
    assert high.data.sampling_rate == 500 and high.data.signals.shape == (2, 12, 5000)
    assert low.data.sampling_rate == 100 and low.data.signals.shape == (2, 12, 1000)
    assert {high.path.name[:6], low.path.name[:6]} == {"500hz-", "100hz-"}
    assert high.path.is_dir() and low.path.is_dir()  # pruning keeps other rates
