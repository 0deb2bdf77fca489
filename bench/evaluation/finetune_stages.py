"""Fine-tuning stages: one stage (everything trains), or a paper's head-then-everything.

A two-stage fine-tune (``bench.method.StagedFinetune``, declared by CPC) keeps the profile's
fine-tuning budget: its ``total`` optimiser steps (``epochs``, ``min_steps``, ``max_steps`` of
``FinetuneConfig``) are split in the paper's ratio, ``head_epochs : full_epochs`` (CPC 50 : 20,
so 5/7 head only), rounded, at least one step each. Stage one trains the head alone at the
profile's ``lr`` (the paper's 1e-3) on the frozen encoder (eval mode, no gradients: its
weights and batch-norm statistics stay as pretrained). Stage two starts from the best
validation state so far and trains everything at ``lr * full_lr / head_lr`` (the paper's 1e-4),
the encoder at that times ``encoder_lr_scale`` (discriminative learning rates). Each stage has
its own optimiser and its own schedule (warm-up + cosine, or one-cycle) over its steps;
validation is scored every ``total // evaluations`` steps of the whole run and at the end of
each stage, patience counts within a stage, and the best validation state of both stages is
kept. With the profiles: ``smoke`` (40-46 steps) trains 29 + 11 to 33 + 13 steps, ``paper``
(50 epochs) 36 + 14 epochs' worth of steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bench.errors import ConfigError
from bench.evaluation.config import FinetuneConfig
from bench.method import StagedFinetune


@dataclass(frozen=True)
class Stage:
    """One stage: ``steps`` optimiser steps peaking at ``lr``; the encoder frozen (``trains``
    "head") or learning at ``lr * encoder_lr_scale`` (``trains`` "all")."""

    trains: Literal["head", "all"]
    steps: int
    lr: float
    encoder_lr_scale: float

    @property
    def train_encoder(self) -> bool:
        return self.trains == "all"


def plan_stages(
    total: int, config: FinetuneConfig, encoder_lr_scale: float, named: StagedFinetune | None
) -> tuple[Stage, ...]:
    """The stages of a ``total``-step fine-tune; ``named``: the method's paper stages (used
    where ``config.stages`` is "method"), None for one stage."""
    if named is None or config.stages == "single":
        return (Stage("all", total, config.lr, encoder_lr_scale),)
    if total < 2:
        raise ConfigError(
            f"a two-stage fine-tune needs at least 2 steps, the budget gives {total}: raise "
            "evaluation.finetune.min_steps or set evaluation.finetune.stages: single"
        )
    share = named.head_epochs / (named.head_epochs + named.full_epochs)
    head = min(total - 1, max(1, round(total * share)))
    full_lr = config.lr * named.full_lr / named.head_lr
    return (
        Stage("head", head, config.lr, 0.0),
        Stage("all", total - head, full_lr, encoder_lr_scale),
    )
