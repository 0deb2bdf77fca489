"""Evaluation protocol options: windows, linear probe, fine-tuning and the bootstrap."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from bench.config import check_range
from bench.evaluation.probe import LinearProbeConfig
from bench.training.config import DeviceChoice, Precision


@dataclass(frozen=True)
class FinetuneConfig:
    """Encoder + head trained with BCE on random crops of the labelled fraction.

    The run lasts ``epochs`` passes over the labelled records but at least ``min_steps``
    optimiser steps (tiny fractions would otherwise train for a handful of steps), capped by
    ``max_steps``. The encoder learns at ``lr * encoder_lr_scale`` (discriminative learning
    rates; 1.0 for a model trained from scratch), the head at ``lr``, with ``warmup_fraction``
    of linear warm-up and a cosine decay. Validation (fold 9) macro AUROC is measured
    ``evaluations`` times, evenly spaced; the best state is kept and training stops after
    ``patience`` evaluations without improvement. ``head`` is a linear layer or the CPC
    paper's MLP (``hidden`` units, batch norm, dropout).
    """

    epochs: int = 20
    min_steps: int = 100
    max_steps: int | None = None
    batch_size: int = 64
    lr: float = 1e-3
    encoder_lr_scale: float = 0.1
    weight_decay: float = 1e-2
    warmup_fraction: float = 0.05
    grad_clip: float | None = 1.0
    evaluations: int = 10
    patience: int = 5
    head: Literal["linear", "mlp"] = "linear"
    hidden: int = 512
    dropout: float = 0.5
    precision: Precision = "auto"

    def __post_init__(self) -> None:
        check_range("evaluation.finetune.epochs", self.epochs, 1)
        check_range("evaluation.finetune.min_steps", self.min_steps, 1)
        if self.max_steps is not None:
            check_range("evaluation.finetune.max_steps", self.max_steps, 1)
        check_range("evaluation.finetune.batch_size", self.batch_size, 1)
        check_range("evaluation.finetune.lr", self.lr, 1e-12)
        check_range("evaluation.finetune.encoder_lr_scale", self.encoder_lr_scale, 0)
        check_range("evaluation.finetune.weight_decay", self.weight_decay, 0)
        check_range("evaluation.finetune.warmup_fraction", self.warmup_fraction, 0, 1)
        if self.grad_clip is not None:
            check_range("evaluation.finetune.grad_clip", self.grad_clip, 1e-12)
        check_range("evaluation.finetune.evaluations", self.evaluations, 1)
        check_range("evaluation.finetune.patience", self.patience, 1)
        check_range("evaluation.finetune.hidden", self.hidden, 1)
        check_range("evaluation.finetune.dropout", self.dropout, 0, 0.99)


@dataclass(frozen=True)
class EvaluationConfig:
    """How every cell is evaluated (selection on fold 9, report on fold 10 only).

    Records are cut into windows of the profile's ``window_s`` with ``stride_s`` (None = half
    a window, as the PTB-XL benchmark: 2.5 s windows, 1.25 s stride); the linear probe uses
    the mean of a record's window embeddings, fine-tuning aggregates window probabilities by
    ``aggregate`` ("mean" as the SSL papers, "max" as the PTB-XL benchmark code). The test
    fold's bootstrap uses ``n_boot`` fixed resamples (seed ``boot_seed``) and ``ci_level``.
    """

    stride_s: float | None = None
    aggregate: Literal["mean", "max"] = "mean"
    linear: LinearProbeConfig = field(default_factory=LinearProbeConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    n_boot: int = 1000
    boot_seed: int = 0
    ci_level: float = 0.9
    batch_size: int = 256
    device: DeviceChoice = "auto"

    def __post_init__(self) -> None:
        if self.stride_s is not None:
            check_range("evaluation.stride_s", self.stride_s, 1e-3)
        check_range("evaluation.n_boot", self.n_boot, 10)
        check_range("evaluation.boot_seed", self.boot_seed, 0)
        check_range("evaluation.ci_level", self.ci_level, 0.5, 0.999)
        check_range("evaluation.batch_size", self.batch_size, 1)
