"""Caches built before bench/data moved into rooms are opened as they are, not rebuilt.

The fixture (tests/fixtures/data/caches-before-move, made by its make_fixture.py at commit
36cf416) holds three tiny datasets and the variable-length, sharded and dense caches the suite
built from them then. A move that changed a cache's format, folder name or source fingerprint
would make ``prepare`` rebuild it: ``built`` would be true.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import wfdb

from bench.data.loading import DATASETS

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "data" / "caches-before-move"
LEADS = ("i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6")
RATES = {"wfdb": 250, "mimic-iv-ecg": None, "ptbxl": 100}


@pytest.fixture
def copied(tmp_path: Path) -> Path:
    """The fixture copied to tmp_path with its source files' build-time mtimes restored."""
    for part in ("sources", "cache"):
        shutil.copytree(FIXTURE / part, tmp_path / part)
    for relative, mtime_ns in json.loads((FIXTURE / "mtimes.json").read_text()).items():
        os.utime(tmp_path / relative, ns=(mtime_ns, mtime_ns))
    return tmp_path


@pytest.mark.parametrize("dataset", sorted(RATES))
def test_a_cache_built_before_the_move_is_used(copied: Path, dataset: str) -> None:
    landed = sorted(p.name for p in (copied / "cache" / dataset).iterdir())
    prepared = DATASETS.get(dataset).prepare(
        copied / "sources" / dataset, RATES[dataset], copied / "cache", jobs=1
    )
    assert not prepared.built
    assert [prepared.path.name] == landed
    assert sorted(p.name for p in (copied / "cache" / dataset).iterdir()) == landed


def test_the_wfdb_cache_holds_the_records_it_was_built_from(copied: Path) -> None:
    data = DATASETS.get("wfdb").prepare(copied / "sources" / "wfdb", 250, copied / "cache").data
    for row, name in enumerate(data.meta["record"]):
        record = wfdb.rdrecord(str(copied / "sources" / "wfdb" / name))
        order = [record.sig_name.index(lead) for lead in LEADS]
        np.testing.assert_allclose(data.signals.record(row), record.p_signal.T[order], atol=1e-6)
