"""Pretraining configuration: schedule, precision and device options of the shared loop."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from bench.config import check_range, to_dict
from bench.encoders.cropa_path import ATTENTION_PATHS, AttentionPath
from bench.encoders.onednn_linear import LINEAR_BACKENDS, LinearBackend
from bench.errors import ConfigError
from bench.training.choices import CUDA_GRAPHS, CudaGraphs, DeviceChoice, Precision


@dataclass(frozen=True)
class TrainConfig:
    """Pretraining schedule and execution options (parsed strictly by ``bench.config``).

    The schedule spans ``epochs`` epochs of ``len(records) // batch_size`` steps, cut to
    ``max_steps`` when set (the cosine then ends at the cap). ``batch_size`` is the global
    batch of one optimiser step: under DDP with N processes each takes ``batch_size / N``
    crops, so the schedule and data order do not depend on N (see ``bench.training.distributed``).
    ``warmup_epochs`` of linear warm-up precede a cosine decay from ``lr`` to ``min_lr``.
    ``precision`` "auto" is bf16 autocast on CUDA and fp32 on CPU ("bf16" forces autocast,
    also on a CPU; "fp32" never autocasts). ``grad_clip`` is a max
    global gradient norm (None = off). ``checkpoint_every`` is in optimiser steps.
    ``find_unused_parameters`` lets DDP train a method whose loss leaves some trainable
    parameters unused in a step (slower; only needed then). ``compile``: torch.compile the
    objective (``bench.training.compile``: static shapes, compile time reported apart).
    ``cuda_graphs``: CUDA graphs for the compiled step (``mode="reduce-overhead"``; "auto",
    the default, on only for a compiled step with static shapes on CUDA, outside DDP;
    "always" also with dynamic shapes, one graph per distinct shape, and an error where graphs
    cannot run; "never"; ``bench.training.compile.use_cuda_graphs``).
    ``attention``: the CroPA implementation of the method's patch transformers ("auto",
    "dense" or "sparse"; ``bench.encoders.cropa_path``; both are exact). ``linear``: the
    back-end of the method's ``nn.Linear`` layers ("aten", torch's own, or "onednn", faster
    on CPU; ``bench.encoders.onednn_linear``; equal to float32 rounding). ``device``,
    ``compile``, ``cuda_graphs``, ``attention``, ``linear``, ``checkpoint_every`` and
    ``find_unused_parameters`` change how a run executes, not what it learns
    (``EXECUTION_FIELDS``): they are left out of run keys and resume checks.
    """

    epochs: int = 100
    max_steps: int | None = None
    batch_size: int = 64
    lr: float = 1e-4
    weight_decay: float = 0.05
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_epochs: float = 5.0
    min_lr: float = 0.0
    grad_clip: float | None = None
    precision: Precision = "auto"
    checkpoint_every: int = 500
    seed: int = 0
    device: DeviceChoice = "auto"
    compile: bool = False
    cuda_graphs: CudaGraphs = "auto"
    find_unused_parameters: bool = False
    attention: AttentionPath = "auto"
    linear: LinearBackend = "aten"

    EXECUTION_FIELDS: ClassVar[tuple[str, ...]] = (
        "checkpoint_every",
        "device",
        "compile",
        "cuda_graphs",
        "find_unused_parameters",
        "attention",
        "linear",
    )

    def __post_init__(self) -> None:
        check_range("train.epochs", self.epochs, 1)
        if self.max_steps is not None:
            check_range("train.max_steps", self.max_steps, 1)
        check_range("train.batch_size", self.batch_size, 1)
        check_range("train.lr", self.lr, 0)
        if self.lr == 0:
            raise ConfigError("train.lr must be positive")
        check_range("train.weight_decay", self.weight_decay, 0)
        for index, beta in enumerate(self.betas):
            check_range(f"train.betas[{index}]", beta, 0, 0.999999)
        check_range("train.warmup_epochs", self.warmup_epochs, 0, self.epochs)
        check_range("train.min_lr", self.min_lr, 0, self.lr)
        if self.grad_clip is not None:
            check_range("train.grad_clip", self.grad_clip, 1e-12)
        check_range("train.checkpoint_every", self.checkpoint_every, 1)
        check_range("train.seed", self.seed, 0)
        if self.attention not in ATTENTION_PATHS:
            raise ConfigError(
                f"train.attention = {self.attention!r} is not one of {', '.join(ATTENTION_PATHS)}"
            )
        if self.cuda_graphs not in CUDA_GRAPHS:
            raise ConfigError(
                f"train.cuda_graphs = {self.cuda_graphs!r} is not one of {', '.join(CUDA_GRAPHS)}"
            )
        if self.cuda_graphs == "always" and (not self.compile or self.device == "cpu"):
            raise ConfigError(
                "train.cuda_graphs = 'always' needs train.compile: true and a CUDA device "
                f"(compile {self.compile}, device {self.device!r}); use 'auto' or 'never'"
            )
        if self.linear not in LINEAR_BACKENDS:
            raise ConfigError(
                f"train.linear = {self.linear!r} is not one of {', '.join(LINEAR_BACKENDS)}"
            )

    def learning_dict(self) -> dict[str, Any]:
        """The fields that decide what is learned, as plain data (for keys and resume checks)."""
        data = to_dict(self)
        return {key: value for key, value in data.items() if key not in self.EXECUTION_FIELDS}

    def total_steps(self, steps_per_epoch: int) -> int:
        """Optimiser steps of the whole run."""
        total = self.epochs * steps_per_epoch
        return min(total, self.max_steps) if self.max_steps is not None else total

    def warmup_steps(self, steps_per_epoch: int) -> int:
        """Warm-up length in steps, never beyond the run."""
        return min(round(self.warmup_epochs * steps_per_epoch), self.total_steps(steps_per_epoch))


def resolve_device(choice: DeviceChoice) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ConfigError when CUDA is asked but absent."""
    if choice == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device = 'cuda' but no CUDA GPU is available")
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(choice)


def autocast_dtype(precision: Precision, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device`` (None = plain fp32)."""
    if precision == "bf16" or (precision == "auto" and device.type == "cuda"):
        return torch.bfloat16
    return None
