"""What ``bench.perf.grid_flops`` counts a grid into: one item per pretraining, fine-tune part
or embedding, each fine-tune cell's steps and scoring, and the distinct probe fits."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.grid.plan import Cell

COMPONENTS = ("pretraining", "finetune train", "finetune scoring", "linear embedding")


@dataclass(frozen=True)
class Item:
    """FLOPs of one piece of the grid: a pretraining, a fine-tune cell's part, an embedding."""

    component: str
    method: str
    flops: int
    items: int = 1  # pretrainings, cells or embeddings it stands for (0: part of another's)


@dataclass(frozen=True)
class PretrainCount:
    """One pretraining: its steps and the FLOPs of one step, counted over several draws."""

    method: str
    steps: int
    draws: tuple[int, ...]

    @property
    def flops(self) -> int:
        """Steps x the mean FLOPs per step over the draws."""
        return round(self.steps * sum(self.draws) / len(self.draws))


@dataclass(frozen=True)
class FinetuneCount:
    """One fine-tune cell: steps and FLOPs per step of each stage, and its scoring FLOPs."""

    batch: int
    stage_steps: tuple[int, ...]
    step_flops: tuple[int, ...]
    val_windows: int
    test_windows: int
    evaluations: tuple[str, ...]  # the trained part ("head" or "all") at each evaluation
    window_flops: int  # forward of one window, encoder + head
    head_window_flops: int  # the head alone on one window's features
    may_stop_early: bool

    @property
    def train_flops(self) -> int:
        """Steps x FLOPs per step, summed over the stages."""
        return sum(s * f for s, f in zip(self.stage_steps, self.step_flops, strict=True))

    @property
    def scoring_flops(self) -> int:
        """Validation at each evaluation plus the test fold once (frozen features excluded)."""
        per_eval = [
            self.head_window_flops if e == "head" else self.window_flops for e in self.evaluations
        ]
        return self.val_windows * sum(per_eval) + self.test_windows * self.window_flops


@dataclass
class GridCount:
    """Everything counted: the items, each fine-tune cell's count, the distinct probe fits."""

    items: list[Item] = field(default_factory=list)
    finetunes: dict[str, FinetuneCount] = field(default_factory=dict)  # by eval key
    pretrainings: dict[str, PretrainCount] = field(default_factory=dict)  # by unit key
    probe_fits: dict[tuple[str, str, bytes], Cell] = field(default_factory=dict)  # distinct fits

    def total(self, component: str | None = None) -> int:
        """FLOPs of one component's items (None: of all)."""
        return sum(i.flops for i in self.items if component in (None, i.component))
