"""Shared by the tracking tests: a user's MLflow settings never leak into them."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def no_tracking_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A user's tracking settings must not leak into the tests."""
    for name in ("BENCH_MLFLOW_URI", "MLFLOW_TRACKING_URI", "BENCH_MLFLOW_EXPERIMENT_PREFIX"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("RANK", raising=False)
