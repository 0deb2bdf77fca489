"""Shared fixtures: isolated results/cache folders, the optional real data (found only through
$BENCH_PTBXL_ROOT and $BENCH_LUDB_ROOT, which .ci/run sets when it has a copy), and the engine's
test doubles (tests/doubles), registered here for every test package."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.doubles.browser import chromium
from tests.doubles.grid import grid_doubles, small_synthetic
from tests.doubles.mlflow_server import mlflow_server
from tests.doubles.result_grid import result_grid
from tests.doubles.toys import toys
from tests.doubles.tracking_files import tracking_files

__all__ = [
    "chromium",
    "grid_doubles",
    "mlflow_server",
    "result_grid",
    "small_synthetic",
    "toys",
    "tracking_files",
]


def _real_root(env: str) -> Path | None:
    """The folder named by ``$env``, if it is set and exists."""
    value = os.environ.get(env)
    return Path(value) if value and Path(value).is_dir() else None


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread() -> None:
    """One intra-op thread per test process: tests that start workers (DDP, Ray, servers)
    would otherwise oversubscribe small CI machines, which slows torch down by orders of
    magnitude; tiny test models gain nothing from more threads."""
    import torch

    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def isolated_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test writes results and caches under its own tmp folder, untouched by the user's
    tracking, distributed or CinC scoring-table settings."""
    results = tmp_path / "results"
    monkeypatch.setenv("BENCH_RESULTS", str(results))
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    for name in (
        "BENCH_CACHE_DIR",
        "BENCH_CINC_SCORING_ROOT",
        "BENCH_MLFLOW_URI",
        "MLFLOW_TRACKING_URI",
        "RANK",
        "WORLD_SIZE",
    ):
        monkeypatch.delenv(name, raising=False)
    return results


@pytest.fixture(scope="session")
def ptbxl_root() -> Path:
    """The real PTB-XL copy at $BENCH_PTBXL_ROOT; skips the test when unset or absent."""
    root = _real_root("BENCH_PTBXL_ROOT")
    if root is None or not (root / "ptbxl_database.csv").is_file():
        pytest.skip("real PTB-XL data not found (set BENCH_PTBXL_ROOT to a PTB-XL copy)")
    return root


@pytest.fixture(scope="session")
def ludb_root() -> Path:
    """The real LUDB copy at $BENCH_LUDB_ROOT; skips the test when unset or absent."""
    root = _real_root("BENCH_LUDB_ROOT")
    if root is None:
        pytest.skip("real LUDB data not found (set BENCH_LUDB_ROOT to a LUDB copy)")
    return root
