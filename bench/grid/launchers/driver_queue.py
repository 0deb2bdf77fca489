"""What a driver (local pool, Ray) hands to its workers next, claimed first.

Unit jobs come first (a pretraining, or a baseline's embeddings), each under its lease
(``pretrain-<key>`` or ``embed-<encoder key>``); a unit's cells become ready when its job
returns. Cells are claimed as they are handed out (``bench.grid.claims``), so a driver holds
only what is running: other runners on the same results folder take the rest. A unit or cell
another runner holds is retried later; the driver polls while any is put off.

Cells are handed out seed-major (every seed-0 cell of what is ready, then seed 1, ...): cells
that differ only in their fraction seed and get the very same inputs (a linear probe at label
fraction 1.0) then run one after another rather than side by side, so the later ones find the
first one's probe in the cache (``bench.evaluation.probe_cache``) instead of fitting it again.
"""

from __future__ import annotations

from bench.grid.claims import CellClaims, embed_lease, pretrain_lease
from bench.grid.launchers.worker_tasks import UnitJob, UnitOutcome, unit_jobs
from bench.grid.leases import Holder
from bench.grid.plan import Cell
from bench.grid.workspace import Workspace


class DriverQueue:
    """Unit jobs and cells of one driver, handed out once this runner holds them."""

    def __init__(self, todo: list[Cell], holder: Holder):
        self.holder = holder
        self.jobs = unit_jobs(todo)  # not handed out yet, by encoder key
        self.running: set[str] = set()
        self.waiting: dict[str, list[Cell]] = {}
        self.outcomes: dict[str, UnitOutcome | None] = {}
        ready = []
        for cell in todo:
            key = Workspace.encoder_key(cell.unit, cell.seed)
            if key in self.jobs:
                self.waiting.setdefault(key, []).append(cell)
            else:
                ready.append(cell)
        self.claims = CellClaims(seed_major(ready), holder)

    @property
    def finished(self) -> bool:
        """Nothing left to hand out or to wait for."""
        return not (self.jobs or self.running or self.claims.left)

    def next_job(self) -> tuple[str, UnitJob] | None:
        """A unit job this runner now holds, or None (none left, or all held elsewhere)."""
        for key, job in list(self.jobs.items()):
            if self.holder.try_acquire(self.lease(key, job)):
                del self.jobs[key]
                self.running.add(key)
                return key, job
        return None

    def job_done(self, key: str, job: UnitJob, outcome: UnitOutcome) -> None:
        """A unit job returned: release it, its cells are ready (failed ones record why)."""
        self.holder.release(self.lease(key, job))
        self.running.discard(key)
        cells = self.waiting.pop(key, [])
        for cell in cells:
            self.outcomes[cell.eval_key] = outcome
        self.claims.add(seed_major(cells))

    def next_cell(self) -> tuple[Cell, UnitOutcome | None] | None:
        """A ready cell this runner now holds, with its unit's outcome; None when there is
        none now (the rest are held elsewhere, or wait for their unit)."""
        cell = self.claims.next(block=False)
        if cell is None:
            return None
        return cell, self.outcomes.pop(cell.eval_key, None)

    def cell_done(self, cell: Cell) -> None:
        """A cell returned: release it."""
        self.claims.release(cell)

    @property
    def elsewhere(self) -> int:
        """Cells another runner finished meanwhile."""
        return self.claims.elsewhere

    @staticmethod
    def lease(key: str, job: UnitJob) -> str:
        """The lease of a unit job: its pretraining, or a baseline's embeddings."""
        return pretrain_lease(job.key) if key == job.key else embed_lease(key)


def seed_major(cells: list[Cell]) -> list[Cell]:
    """``cells`` ordered by fraction seed, the order within one seed kept."""
    return sorted(cells, key=lambda cell: cell.seed)
