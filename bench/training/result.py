"""What a pretraining produced: its checkpoint, progress, history and collapse verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.method import CollapseRule
from bench.training.collapse import collapse_summary
from bench.training.state import History


@dataclass(frozen=True)
class PretrainResult:
    """What a pretraining produced; ``history`` has one row per optimiser step.

    ``steps_this_call`` is 0 when the run had finished before; ``wall_time_s`` and
    ``samples_per_s`` cover the training of every call together. ``collapse`` is the
    method's collapse diagnostic and verdict (``bench.training.collapse``). ``compile_s``
    is the wall time of the steps that ran torch.compile (``bench.training.compile``; 0
    without ``train.compile``); it is part of ``wall_time_s``. ``notes``: what the run changed
    from its config (a batch larger than the training records, capped to them).
    """

    checkpoint: Path
    steps: int
    total_steps: int
    finished: bool
    wall_time_s: float
    samples_per_s: float
    history: list[dict[str, float]]
    steps_this_call: int
    collapse: dict[str, Any] = field(default_factory=dict)
    compile_s: float = 0.0
    notes: tuple[str, ...] = ()


def result_from_checkpoint(
    path: Path, state: dict[str, Any], rule: CollapseRule | None
) -> PretrainResult:
    """The PretrainResult a saved checkpoint describes (``rule``: its method's, for collapse)."""
    elapsed = float(state["elapsed_s"])
    history = History(state["history"])
    return PretrainResult(
        checkpoint=path,
        steps=int(state["step"]),
        total_steps=int(state["total_steps"]),
        finished=bool(state["finished"]),
        wall_time_s=elapsed,
        samples_per_s=float(state["samples_seen"]) / elapsed if elapsed > 0 else 0.0,
        history=history.rows(),
        steps_this_call=0,
        collapse=collapse_summary(rule, history.columns),
        compile_s=float(state.get("compile_s", 0.0)),
        notes=tuple(state.get("notes", ())),
    )
