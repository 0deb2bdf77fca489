"""The runner's view of MLflow: mirror each finished cell; never let tracking lose results."""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.grid.plan import Cell
from bench.grid.results import CellResult
from bench.tracking.grid_run import grid_run_holds, log_grid_run
from bench.tracking.sync import Tracker, TrackingError

log = logging.getLogger(__name__)


@dataclass
class MlflowMirror:
    """Logs cells as they finish; on a store error it warns once and stops logging.

    Result files stay the source of truth: the next ``bench run`` (or ``sync``) mirrors
    whatever was not logged.
    """

    tracker: Tracker | None
    overwrite: bool = False

    @classmethod
    def connect(cls, uri: str | None, overwrite: bool) -> MlflowMirror:
        """A mirror on ``uri`` (default store when None); inactive when it cannot be reached."""
        try:
            return cls(Tracker(uri), overwrite)
        except TrackingError as error:
            log.warning("MLflow tracking off for this run: %s", error)
            return cls(None, overwrite)

    def log(self, cell: Cell, result: CellResult) -> None:
        """Mirror one finished (or failed) cell under its pretraining's parent run."""
        if self.tracker is None:
            return
        pretrain_dir = cell.unit.plan.run_dir if cell.unit.plan is not None else None
        try:
            self.tracker.log_cell(result, overwrite=self.overwrite, pretrain_dir=pretrain_dir)
        except TrackingError as error:
            self._give_up(error)

    def sync(self) -> None:
        """Mirror every result file not yet in the store (cells skipped by this run too)."""
        if self.tracker is None:
            return
        try:
            summary = self.tracker.sync()
        except TrackingError as error:
            self._give_up(error)
            return
        if summary.logged or summary.replaced:
            log.info("MLflow: mirrored %d earlier cells", summary.logged + summary.replaced)

    def log_grid(
        self,
        grid_key: str,
        eval_keys: Collection[str],
        artifacts: Mapping[str, Sequence[Path]],
        span_ms: tuple[int, int],
        outputs_digest: str | None = None,
    ) -> dict[str, str]:
        """The grid-level run (see ``bench.tracking.grid_run``): experiment id -> run id."""
        if self.tracker is None:
            return {}
        try:
            return log_grid_run(
                self.tracker, grid_key, eval_keys, artifacts, span_ms, outputs_digest
            )
        except TrackingError as error:
            self._give_up(error)
            return {}

    def holds_grid(self, grid_key: str, eval_keys: Collection[str], outputs_digest: str) -> bool:
        """Whether the store already holds this grid's run, logged from outputs built from
        ``outputs_digest`` (False when inactive: nothing to keep)."""
        if self.tracker is None:
            return False
        try:
            return grid_run_holds(self.tracker, grid_key, eval_keys, outputs_digest)
        except TrackingError as error:
            self._give_up(error)
            return False

    def _give_up(self, error: TrackingError) -> None:
        log.warning("MLflow logging stopped (results are safe on disk): %s", error)
        self.tracker = None
