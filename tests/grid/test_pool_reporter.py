"""The local pool's driver hands out work without waiting for its per-result callback (the
MLflow mirror), which runs on a thread of its own, in order."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from bench.grid.launchers.local_pool import _Reporter


def test_callbacks_run_in_order_on_another_thread_without_blocking_submit() -> None:
    handled: list[tuple[Any, Any, str]] = []

    def slow(cell: Any, result: Any) -> None:
        time.sleep(0.05)
        handled.append((cell, result, threading.current_thread().name))

    reporter = _Reporter(slow)
    started = time.perf_counter()
    for i in range(5):
        reporter.submit(i, f"r{i}")  # type: ignore[arg-type]
    assert time.perf_counter() - started < 0.05  # nothing waited for a callback
    reporter.close()  # waits for all of them
    assert [(c, r) for c, r, _ in handled] == [(i, f"r{i}") for i in range(5)]
    assert {name for _, _, name in handled} == {"bench-on-result"}


def test_a_callback_error_reaches_the_driver_and_stops_later_callbacks() -> None:
    handled: list[Any] = []

    def failing(cell: Any, result: Any) -> None:
        handled.append(cell)
        if cell == 1:
            raise OSError("disk full")

    reporter = _Reporter(failing)
    for i in range(4):
        try:
            reporter.submit(i, None)  # type: ignore[arg-type]
        except OSError:
            break
    with pytest.raises(OSError, match="disk full"):
        reporter.close()
    assert handled == [0, 1]


def test_no_callback_means_no_thread() -> None:
    reporter = _Reporter(None)
    reporter.submit(0, None)  # type: ignore[arg-type]
    reporter.close()
    assert not reporter.thread.is_alive() and reporter.thread.ident is None
