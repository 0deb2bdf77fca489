"""What each local worker is doing, summarised on one line under the grid's progress bar.

Workers put ``(pid, label, started)`` on a queue the driver hands them at start-up, when a job
begins and when it ends; the driver keeps the latest state per worker and renders e.g.
``workers: w1 pretrain jepa 12s · w2 cpc / synthetic / linear / 0.1 / seed 0 3s · w3 idle``.
"""

from __future__ import annotations

import os
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.queues import Queue
from typing import Any, TypeVar

T = TypeVar("T")
IDLE = "idle"

_STATUS: Queue[tuple[int, str, float]] | None = None  # set in each worker at start-up


def set_status_queue(status: Queue[tuple[int, str, float]] | None) -> None:
    """Worker start-up: where ``run_reported`` announces its jobs."""
    global _STATUS
    _STATUS = status


def run_reported(label: str, function: Callable[..., T], *args: Any) -> T:
    """Run ``function(*args)`` in a worker, announcing ``label`` before and idle after."""
    _announce(label)
    try:
        return function(*args)
    finally:
        _announce(IDLE)


def _announce(label: str) -> None:
    if _STATUS is not None:
        _STATUS.put((os.getpid(), label, time.time()))


@dataclass
class WorkerBoard:
    """The driver's view: the latest label and start time of each worker, by pid."""

    states: dict[int, tuple[str, float]] = field(default_factory=dict)

    def drain(self, status: Queue[tuple[int, str, float]]) -> bool:
        """Take every waiting message; whether any arrived."""
        changed = False
        while True:
            try:
                pid, label, started = status.get_nowait()
            except queue.Empty:
                return changed
            self.states[pid] = (label, started)
            changed = True

    def line(self, now: float | None = None) -> str:
        """``workers: w1 <label> <seconds>s · w2 idle ...`` in order of the workers' pids."""
        now = time.time() if now is None else now
        parts = []
        for number, pid in enumerate(sorted(self.states), start=1):
            label, started = self.states[pid]
            took = "" if label == IDLE else f" {max(0.0, now - started):.0f}s"
            parts.append(f"w{number} {label}{took}")
        return "workers: " + (" · ".join(parts) if parts else "starting")
