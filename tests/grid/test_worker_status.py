"""The one-line summary of what each local worker does (``bench run --jobs N``)."""

from __future__ import annotations

import multiprocessing
import os
import time

import pytest

from bench.grid.launchers import worker_status
from bench.grid.launchers.worker_status import WorkerBoard, run_reported, set_status_queue


def test_board_renders_each_worker_on_one_line() -> None:
    board = WorkerBoard({30: ("idle", 0.0), 10: ("pretrain jepa", 100.0), 20: ("cpc / x", 95.5)})
    assert board.line(now=112.4) == "workers: w1 pretrain jepa 12s · w2 cpc / x 17s · w3 idle"
    assert WorkerBoard().line() == "workers: starting"


def test_jobs_announce_their_label_then_idle_even_when_they_fail() -> None:
    status = multiprocessing.get_context("spawn").Queue()
    set_status_queue(status)
    try:
        assert run_reported("cell a", sum, [1, 2]) == 3
        with pytest.raises(ZeroDivisionError):
            run_reported("cell b", divmod, 1, 0)
    finally:
        set_status_queue(None)
    messages = [status.get(timeout=10) for _ in range(4)]
    assert [label for _, label, _ in messages] == ["cell a", "idle", "cell b", "idle"]
    assert {pid for pid, _, _ in messages} == {os.getpid()}
    board = WorkerBoard()
    status.put(messages[2])
    deadline = time.monotonic() + 10
    while not board.drain(status) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert board.line(now=messages[2][2] + 3.2) == "workers: w1 cell b 3s"
    assert worker_status._STATUS is None


@pytest.mark.slow
def test_a_pooled_grid_shows_the_workers_line(
    grid_doubles: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from bench.grid.launchers.local_pool import run_grid_in_pool
    from bench.grid.plan import load_run_config
    from bench.grid.runner import plan_grid, workspace_for
    from tests.doubles.grid import FAST, WORKER_SETUP

    values = {"methods": ["toy_masked"], "tasks": ["synthetic-small"], "fractions": [0.5]}
    cfg = load_run_config(None, {**values, "seeds": 2, "protocols": ["linear"],
                                 "profile_overrides": FAST})  # fmt: skip
    workspace = workspace_for(cfg, progress=True)
    summary = run_grid_in_pool(
        plan_grid(cfg, workspace), cfg, workspace, 2, worker_setup=WORKER_SETUP
    )
    assert summary.ran == 2
    shown = capsys.readouterr().err
    assert "workers: w1 pretrain toy_masked + embed" in shown
    assert "toy_masked / synthetic-small / linear / 0.5" in shown
