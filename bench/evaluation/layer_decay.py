"""Layer-wise learning-rate decay of a fine-tuned transformer encoder (``finetune.layer_decay``).

As BEiT (Bao et al., ICLR 2022) and MAE fine-tune ViTs, and BenchECG and ST-MEM ECG
transformers: counting from the head down, the final norm learns at the encoder's rate, the
last block at ``decay`` times it, the block below at ``decay²`` ... and the patch embedding at
``decay ** (blocks + 1)`` (``Encoder.layer_depths``). The encoder's rate is the fine-tune's
``lr * encoder_lr_scale``; the head keeps ``lr``. An encoder without blocks (a CNN, CPC's LSTM)
learns at its rate unchanged: the decay applies to transformer encoders only.
"""

from __future__ import annotations

from collections import defaultdict

from torch import nn

from bench.encoders.base import Encoder
from bench.training.optim import parameter_groups


def layer_factors(encoder: Encoder, decay: float) -> dict[str, float] | None:
    """Each parameter's learning-rate factor (name -> ``decay ** (top - depth)``); None where
    the encoder has no blocks."""
    depths = encoder.layer_depths()
    if depths is None:
        return None
    top = max(depths.values())
    return {name: decay ** (top - depth) for name, depth in depths.items()}


def scaled_groups(
    module: nn.Module, weight_decay: float, scale: float, layer_decay: float | None = None
) -> list[dict[str, object]]:
    """AdamW groups of ``module`` (``parameter_groups``) with ``lr_scale`` ``scale``, times
    the parameter's ``layer_factors`` where ``layer_decay`` is set and ``module`` is an
    encoder with blocks: one group per (weight decay, factor), head side first."""
    groups = parameter_groups(module, weight_decay)
    factors = None
    if layer_decay is not None and isinstance(module, Encoder):
        factors = layer_factors(module, layer_decay)
    if factors is None:
        return [{**group, "lr_scale": scale} for group in groups]
    factor_of = {id(p): factors[name] for name, p in module.named_parameters()}
    split: list[dict[str, object]] = []
    for group in groups:
        by_factor: dict[float, list[nn.Parameter]] = defaultdict(list)
        for param in group["params"]:  # type: ignore[attr-defined]
            by_factor[factor_of[id(param)]].append(param)
        for factor in sorted(by_factor, reverse=True):
            split.append({**group, "params": by_factor[factor], "lr_scale": scale * factor})
    return split
