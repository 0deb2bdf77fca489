"""What the pretraining loop must carry across a stop: RNG states, loss history, Ctrl-C timing."""

from __future__ import annotations

import csv
import math
import random
import signal
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np
import torch
from torch import Tensor

from bench.errors import BenchError


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators (every CUDA device included)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def capture_rng() -> dict[str, Any]:
    """The global RNG states (torch CPU, every CUDA device, NumPy, Python) as plain data."""
    kind, key, pos, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [kind, torch.from_numpy(key.astype(np.int64)), pos, has_gauss, cached],
        "python": random.getstate(),
    }


def restore_rng(state: dict[str, Any]) -> None:
    """Restore what ``capture_rng`` returned; CUDA states only where the device count matches."""
    torch.set_rng_state(state["torch"])
    if (
        state["cuda"]
        and torch.cuda.is_available()
        and len(state["cuda"]) == len(torch.cuda.get_rng_state_all())
    ):
        torch.cuda.set_rng_state_all(state["cuda"])
    kind, key, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, key.numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


class NonFiniteLossError(BenchError):
    """The loss became NaN or infinite; no checkpoint is written from that state."""


class History:
    """Per-step training scalars (step, epoch, loss, lr and the method's other loss entries).

    Values arrive as device tensors and are synchronised in one transfer per ``flush`` rather
    than every step, so logging never stalls the GPU. Stored column-wise for compact
    checkpoints; a column missing at some step holds NaN.
    """

    def __init__(self, columns: Mapping[str, Tensor | Sequence[float]] | None = None):
        self.columns: dict[str, list[float]] = {
            key: torch.as_tensor(values, dtype=torch.float64).tolist()
            for key, values in (columns or {}).items()
        }
        self._pending: list[tuple[dict[str, float], dict[str, Tensor]]] = []

    def __len__(self) -> int:
        return len(self.columns.get("step", []))

    def add(self, known: dict[str, float], scalars: dict[str, Tensor]) -> None:
        """Queue one step: plain numbers plus float32 copies of 0-d tensors still on the device.

        Copies, as a CUDA graph's next replay overwrites the tensors a step returned.
        """
        queued = {k: v.detach().to(torch.float32, copy=True) for k, v in scalars.items()}
        self._pending.append((known, queued))

    def flush(self) -> None:
        """Move queued steps into the columns; NonFiniteLossError on a NaN/inf loss."""
        if not self._pending:
            return
        tensors = [value for _, scalars in self._pending for value in scalars.values()]
        values = iter(torch.stack(tensors).tolist())
        for known, scalars in self._pending:
            row = {**known, **{key: next(values) for key in scalars}}
            if not math.isfinite(row["loss"]):
                self._pending.clear()
                raise NonFiniteLossError(
                    f"the loss is {row['loss']} at step {int(row['step'])} (lr {row['lr']:.3g}); "
                    "lower the learning rate or set grad_clip"
                )
            self._append(row)
        self._pending.clear()

    def _append(self, row: dict[str, float]) -> None:
        length = len(self)
        for key in row:
            if key not in self.columns:
                self.columns[key] = [math.nan] * length
        for key, column in self.columns.items():
            column.append(float(row.get(key, math.nan)))

    def state_dict(self) -> dict[str, Tensor]:
        """The columns as float64 tensors (compact in checkpoints); ``History(state)`` restores."""
        return {
            key: torch.tensor(values, dtype=torch.float64) for key, values in self.columns.items()
        }

    def rows(self) -> list[dict[str, float]]:
        """One dict per step; step and epoch as ints."""
        keys = list(self.columns)
        rows = [
            dict(zip(keys, values, strict=True))
            for values in zip(*self.columns.values(), strict=True)
        ]
        for row in rows:
            row["step"], row["epoch"] = int(row["step"]), int(row["epoch"])
        return rows

    def write_csv(self, path: Path) -> None:
        """Write the history as CSV atomically (temporary file, then rename)."""
        temporary = path.with_name(f".{path.name}.tmp")
        with temporary.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(self.columns))
            writer.writeheader()
            writer.writerows(self.rows())
        temporary.replace(path)


class InterruptGuard:
    """Holds back Ctrl-C while the model is being updated, so a stop lands between steps.

    Inside ``critical()`` a SIGINT is remembered and raised as KeyboardInterrupt when the block
    ends; elsewhere it interrupts at once, as usual. Only the main thread can install signal
    handlers; elsewhere the guard does nothing.
    """

    def __init__(self) -> None:
        self._critical = False
        self._pending = False
        self._previous: Any = None

    def __enter__(self) -> InterruptGuard:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    @contextmanager
    def critical(self) -> Iterator[None]:
        """A block that a Ctrl-C must not cut in half."""
        self._critical = True
        try:
            yield
        finally:
            self._critical = False
        if self._pending:
            self._pending = False
            raise KeyboardInterrupt

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._critical:
            self._pending = True
        else:
            raise KeyboardInterrupt
