"""Locks that make MLflow logging safe under concurrency: one run per cell, one parent run per
pretraining, however many runners mirror the same results folder at once.

MLflow has no unique keys on tags, so "search, then create if missing" is made atomic with a
lease (``bench.grid.leases``) per run key in the results folder: ``mlflow-cell-<eval_key>`` and
``mlflow-parent-<pretrain_key>``. Whoever holds it searches again before creating.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.grid.leases import Holder

LOCK_POLL_S = 0.05
LOCK_TIMEOUT_S = 120.0  # a holder that stopped beating this long ago is gone


class StoreLocks:
    """One process's locks on MLflow run keys of one results folder."""

    def __init__(self, results: Path):
        self.holder = Holder(results, timeout_s=LOCK_TIMEOUT_S)

    @contextmanager
    def hold(self, kind: str, key: str) -> Iterator[None]:
        """Hold the lock of run ``key`` of ``kind`` ("cell", "parent") for the block."""
        with self.holder.hold(f"mlflow-{kind}-{key}", poll_s=LOCK_POLL_S):
            yield
