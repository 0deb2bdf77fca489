"""RNG capture/restore, the loss history and the Ctrl-C guard of the pretraining loop."""

from __future__ import annotations

import math
import random
import signal

import numpy as np
import pytest
import torch

from bench.training.state import (
    History,
    InterruptGuard,
    NonFiniteLossError,
    capture_rng,
    restore_rng,
    seed_everything,
)


def draw() -> tuple[float, float, float]:
    return torch.rand(()).item(), float(np.random.rand()), random.random()


def test_rng_capture_restore_repeats_every_generator() -> None:
    seed_everything(11)
    draw()
    state = capture_rng()
    expected = [draw() for _ in range(3)]
    seed_everything(12)
    restore_rng(state)
    assert [draw() for _ in range(3)] == expected


def test_seed_everything_is_repeatable() -> None:
    seed_everything(4)
    first = draw()
    seed_everything(4)
    assert draw() == first


def test_history_flushes_queued_tensors_and_fills_gaps() -> None:
    history = History()
    history.add({"step": 1, "epoch": 1, "lr": 0.1}, {"loss": torch.tensor(2.0)})
    history.add(
        {"step": 2, "epoch": 1, "lr": 0.2}, {"loss": torch.tensor(1.0), "acc": torch.tensor(0.5)}
    )
    assert len(history) == 0  # nothing synchronised before flush
    history.flush()
    rows = history.rows()
    assert rows[1] == {"step": 2, "epoch": 1, "lr": 0.2, "loss": 1.0, "acc": 0.5}
    assert list(rows[1]) == ["step", "epoch", "lr", "loss", "acc"]  # CSV column order
    assert math.isnan(rows[0]["acc"]) and rows[0]["loss"] == 2.0
    assert History(history.columns).rows()[1] == rows[1]


def test_history_rejects_a_non_finite_loss() -> None:
    history = History()
    history.add({"step": 7, "epoch": 1, "lr": 0.1}, {"loss": torch.tensor(float("inf"))})
    with pytest.raises(NonFiniteLossError, match="the loss is inf at step 7"):
        history.flush()


def test_interrupt_guard_defers_ctrl_c_to_the_end_of_a_critical_block() -> None:
    before = signal.getsignal(signal.SIGINT)  # SIG_IGN when started as a background job
    reached_end_of_block = False
    with InterruptGuard() as guard, pytest.raises(KeyboardInterrupt), guard.critical():
        signal.raise_signal(signal.SIGINT)
        reached_end_of_block = True
    assert reached_end_of_block
    with InterruptGuard(), pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)  # outside a critical block: at once
    assert signal.getsignal(signal.SIGINT) is before
