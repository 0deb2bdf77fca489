"""What every kind of cell reports besides its metrics: the config that defines it (with a
published checkpoint's provenance) and, when tuning, its validation-only score."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench import __version__
from bench.config import to_dict
from bench.grid.plan import Cell
from bench.grid.workspace import Workspace


@dataclass(frozen=True)
class ValidationScore:
    """Validation (fold 9) score of one cell's protocol (macro AUROC; for the other kinds the
    main metric, negated when lower is better), and how it selected."""

    macro_auroc: float
    n_train: int
    n_val: int
    details: dict[str, Any]


def cell_config(cell: Cell, workspace: Workspace, details: dict[str, Any]) -> dict[str, Any]:
    """Everything that defines the cell, as plain data, plus how the protocol selected."""
    setup = cell.unit.setup
    return {
        "bench_version": __version__,
        "unit_key": cell.unit.key,
        "dataset": cell.unit.dataset,
        "task_version": cell.task.version,
        "method_config": to_dict(setup.method_config),
        "train": setup.train.learning_dict() if cell.unit.needs_pretraining else None,
        "preprocessing": to_dict(setup.preprocessing),
        "window_s": setup.window_s,
        "input": cell.unit.input_kind(workspace.profile),
        "evaluation": to_dict(cell.unit.evaluation),
        "selection": details,
        "matched_baselines": dict(cell.unit.matched_baselines),
        **checkpoint_provenance(cell),
    }


def checkpoint_provenance(cell: Cell) -> dict[str, Any]:
    """A published checkpoint's weights (file, SHA-256) and, where the task's data was in its
    training corpus, the leakage note; nothing for other methods."""
    method = cell.unit.setup.method
    weights = method.unit_identity(cell.unit.setup.method_config)
    if not weights:
        return {}
    return {"weights": weights, "leakage": method.seen_in_training(cell.task.data_sources())}
