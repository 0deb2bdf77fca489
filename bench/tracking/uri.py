"""Which MLflow store a command uses, decided without importing MLflow (``bench report`` on
an untracked results folder then never loads it)."""

from __future__ import annotations

import os
from pathlib import Path

from bench.paths import results_dir

URI_ENV = "BENCH_MLFLOW_URI"
MLFLOW_URI_ENV = "MLFLOW_TRACKING_URI"
DB_NAME = "mlflow.db"


def tracking_uri(override: str | None = None, results: str | Path | None = None) -> str:
    """``override``, else $BENCH_MLFLOW_URI, else $MLFLOW_TRACKING_URI, else the SQLite file
    ``mlflow.db`` under the results folder (as an absolute path)."""
    chosen = override or os.environ.get(URI_ENV) or os.environ.get(MLFLOW_URI_ENV)
    if chosen:
        return chosen
    return f"sqlite:///{(results_dir(results) / DB_NAME).resolve()}"
