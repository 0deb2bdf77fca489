"""Sharing a grid between runners: a runner claims each cell before computing it.

Cells are taken in order; one another runner holds (or whose pretraining another runner is
training) is put off and come back to at the end. A cell whose result file changed since this
runner planned it was written by another runner: it is counted and dropped, never computed
twice. Lease names: ``cell-<eval_key>``, ``pretrain-<unit key>``, ``embed-<encoder key>``.
"""

from __future__ import annotations

import os
import time
from collections import deque
from typing import TYPE_CHECKING

from bench.grid.leases import POLL_S, Holder
from bench.grid.results import result_paths
from bench.paths import results_dir

if TYPE_CHECKING:
    from bench.grid.plan import Cell

Signature = tuple[int, int, int] | None


def cell_lease(cell: Cell) -> str:
    """Lease name of a cell."""
    return key_lease(cell.eval_key)


def key_lease(eval_key: str) -> str:
    """Lease name of the cell ``eval_key``."""
    return f"cell-{eval_key}"


def pretrain_lease(unit_key: str) -> str:
    """Lease name of a pretraining."""
    return f"pretrain-{unit_key}"


def embed_lease(encoder_key: str) -> str:
    """Lease name of the frozen embeddings of one encoder."""
    return f"embed-{encoder_key}"


def result_signature(eval_key: str) -> Signature:
    """(mtime, size, inode) of a cell's result JSON, None when it has none."""
    json_path, _ = result_paths(results_dir(), eval_key)
    try:
        stat = os.stat(json_path)
    except FileNotFoundError:
        return None
    return stat.st_mtime_ns, stat.st_size, stat.st_ino


class CellClaims:
    """The cells one runner still has to do, handed out only once this runner holds them."""

    def __init__(self, todo: list[Cell], holder: Holder, poll_s: float = POLL_S):
        self.holder = holder
        self.poll_s = poll_s
        self.pending: deque[Cell] = deque()
        self.deferred: list[Cell] = []
        self.planned: dict[str, Signature] = {}
        self.elsewhere = 0  # cells another runner finished meanwhile
        self.add(todo)

    def add(self, cells: list[Cell]) -> None:
        """More cells to do, their result files as they are now."""
        for cell in cells:
            self.planned[cell.eval_key] = result_signature(cell.eval_key)
            self.pending.append(cell)

    @property
    def left(self) -> int:
        """Cells neither handed out nor dropped yet."""
        return len(self.pending) + len(self.deferred)

    def next(self, block: bool = True) -> Cell | None:
        """The next cell this runner now holds; None when none is left (or, unless ``block``,
        none can be taken now: the others are held elsewhere; they are retried next call)."""
        while True:
            while self.pending:
                cell = self.pending.popleft()
                taken = self._claim(cell)
                if taken:
                    return cell
                if taken is False:
                    self.deferred.append(cell)
            if not self.deferred:
                return None
            self.pending.extend(self.deferred)
            self.deferred.clear()
            if not block:
                return None
            time.sleep(self.poll_s)

    def release(self, cell: Cell) -> None:
        """The cell is finished (or failed): give its lease back."""
        self.holder.release(cell_lease(cell))

    def _claim(self, cell: Cell) -> bool | None:
        """True: held now; False: held elsewhere (later); None: done elsewhere (drop)."""
        if self._written_elsewhere(cell):
            return None
        unit = cell.unit
        if unit.needs_pretraining and self.holder.held_elsewhere(pretrain_lease(unit.key)):
            return False
        if not self.holder.try_acquire(cell_lease(cell)):
            return False
        if self._written_elsewhere(cell):  # finished just before this runner took it
            self.release(cell)
            return None
        return True

    def _written_elsewhere(self, cell: Cell) -> bool:
        now = result_signature(cell.eval_key)
        if now is not None and now != self.planned[cell.eval_key]:
            self.elsewhere += 1
            return True
        return False
