"""Where the suite reads and writes: results, caches and dataset roots."""

from __future__ import annotations

import os
from pathlib import Path

RESULTS_ENV = "BENCH_RESULTS"
CACHE_ENV = "BENCH_CACHE_DIR"


def results_dir(override: str | Path | None = None) -> Path:
    """Root of all outputs: ``override``, else $BENCH_RESULTS, else ./results."""
    return Path(override or os.environ.get(RESULTS_ENV) or "results").expanduser()


def cache_dir(override: str | Path | None = None) -> Path:
    """Prepared-dataset and embedding caches: ``override``, $BENCH_CACHE_DIR or results/cache."""
    if override or os.environ.get(CACHE_ENV):
        return Path(override or os.environ[CACHE_ENV]).expanduser()
    return results_dir() / "cache"


def dataset_root_env(dataset: str) -> str:
    """Name of the environment variable pointing at a dataset's root, e.g. BENCH_PTBXL_ROOT."""
    return f"BENCH_{dataset.upper().replace('-', '_')}_ROOT"
