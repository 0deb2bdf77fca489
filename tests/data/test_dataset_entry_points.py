"""A dataset plugin may come from another installed package, through the ``bench.datasets``
entry point group, as methods and tasks do through ``bench.methods`` and ``bench.tasks``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PLUGIN = '''
from pathlib import Path

import numpy as np
import pandas as pd

from bench.data.loading import DatasetSource, register_dataset
from bench.data.signals import CANONICAL_LEADS, SignalSet


@register_dataset
class Outside(DatasetSource):
    """Ten in-memory records: a dataset shipped by another package."""

    name = "outside"
    needs_root = False

    def load(self, root: Path | None, rate: int | None, cache: Path) -> SignalSet:
        meta = pd.DataFrame({"record_id": range(10), "patient_id": range(10),
                             "fold": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]})
        signals = np.zeros((10, 12, 500), dtype=np.float32)
        return SignalSet("outside", signals, meta, 100, CANONICAL_LEADS, "outside-v1")
'''


def test_a_dataset_registered_by_an_entry_point_loads(tmp_path: Path) -> None:
    (tmp_path / "outside_plugin.py").write_text(PLUGIN)
    info = tmp_path / "outside_plugin-0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: outside-plugin\nVersion: 0\n")
    (info / "entry_points.txt").write_text("[bench.datasets]\noutside = outside_plugin\n")
    script = (
        "from bench.data.loading import DATASETS, load_dataset\n"
        "print(sorted(DATASETS.names()))\n"
        "print(load_dataset('outside').signals.shape)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "BENCH_RESULTS": str(tmp_path / "r")}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    names, shape = done.stdout.splitlines()
    assert "'outside'" in names and "'ptbxl'" in names
    assert shape == "(10, 12, 500)"
