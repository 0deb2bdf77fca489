"""Optimiser pieces of the shared pretraining loop: AdamW parameter groups and the lr schedule."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from bench.errors import ConfigError

NORM_LAYERS: tuple[type[nn.Module], ...] = (
    nn.modules.batchnorm._NormBase,
    nn.GroupNorm,
    nn.LayerNorm,
    nn.LocalResponseNorm,
    nn.RMSNorm,
)
DECAYED_ATTRIBUTE = "decayed_parameters"
"""A module's tuple of its own parameter names that get weight decay whatever their shape."""


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict[str, object]]:
    """AdamW groups: weight decay on weight matrices/kernels only.

    Biases, parameters of normalisation layers and any parameter with ``ndim <= 1`` get no
    decay, unless the module owning a parameter names it in its ``decayed_parameters``
    (``DECAYED_ATTRIBUTE``: a method's own choice, e.g. ECG-JEPA's predictor's mask token);
    frozen parameters (``requires_grad=False``, e.g. an EMA target) are left out. Shared
    parameters appear once. Empty groups are dropped.
    """
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    seen: set[int] = set()
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            if not param.requires_grad or id(param) in seen:
                continue
            seen.add(id(param))
            exempt = param.ndim <= 1 or name == "bias" or isinstance(module, NORM_LAYERS)
            if name in getattr(module, DECAYED_ATTRIBUTE, ()):
                exempt = False
            (no_decay if exempt else decay).append(param)
    groups = [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return [group for group in groups if group["params"]]


def build_optimizer(
    model: nn.Module,
    lr: float,
    weight_decay: float,
    betas: tuple[float, float],
    device: torch.device,
) -> torch.optim.AdamW:
    """AdamW over ``parameter_groups``; the fused kernel on CUDA."""
    groups = parameter_groups(model, weight_decay)
    if not groups:
        raise ConfigError(f"{type(model).__name__} has no trainable parameters to pretrain")
    return torch.optim.AdamW(groups, lr=lr, betas=betas, fused=device.type == "cuda")


@dataclass(frozen=True)
class WarmupCosine:
    """Per-step learning rate: linear warm-up to ``base_lr``, then cosine down to ``min_lr``.

    Step ``s`` (0-based, the s-th optimiser step) uses ``base_lr * (s + 1) / warmup_steps``
    during warm-up, so the last warm-up step reaches ``base_lr``; the cosine then runs from
    ``base_lr`` at step ``warmup_steps`` to exactly ``min_lr`` at the final step
    ``total_steps - 1`` (a lone step after warm-up gets ``min_lr``). A pure function of the
    step: resuming needs only the step.
    """

    base_lr: float
    min_lr: float
    warmup_steps: int
    total_steps: int

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.base_lr * (step + 1) / self.warmup_steps
        decay_steps = self.total_steps - 1 - self.warmup_steps
        progress = min(1.0, (step - self.warmup_steps) / decay_steps) if decay_steps > 0 else 1.0
        return self.min_lr + (self.base_lr - self.min_lr) * 0.5 * (1 + math.cos(math.pi * progress))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Give every parameter group the learning rate ``lr``."""
    for group in optimizer.param_groups:
        group["lr"] = lr
