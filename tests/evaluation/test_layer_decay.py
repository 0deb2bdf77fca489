"""Layer-wise learning-rate decay of fine-tuned transformer encoders (``finetune.layer_decay``)."""

from __future__ import annotations

import pytest
import torch

from bench.encoders.base import InputSpec
from bench.encoders.patch_transformer import PatchTransformer, PatchTransformerConfig
from bench.evaluation.config import FinetuneConfig
from bench.evaluation.finetune import Classifier, finetune_optimizer
from methods.cpc_encoder import CPCEncoder, CPCEncoderConfig

SPEC = InputSpec(n_leads=2, n_samples=50, sampling_rate=100)
CPU = torch.device("cpu")


def lr_scales(model: Classifier, config: FinetuneConfig, scale: float) -> dict[str, float]:
    """Each named parameter's ``lr_scale`` in the fine-tuning optimiser."""
    optimizer = finetune_optimizer(model, config, scale, CPU)
    by_id = {id(p): group["lr_scale"] for group in optimizer.param_groups for p in group["params"]}
    return {name: by_id[id(p)] for name, p in model.named_parameters()}


def test_each_block_learns_decay_times_the_one_above() -> None:
    encoder = PatchTransformer(PatchTransformerConfig(depth=3, patch_size=25), SPEC)
    model = Classifier(encoder, 4)
    scales = lr_scales(model, FinetuneConfig(layer_decay=0.5), scale=0.1)
    expected_depth = {"patch_embed": 0, "blocks.0": 1, "blocks.1": 2, "blocks.2": 3, "norm": 4}
    for name, value in scales.items():
        if name.startswith("head."):
            assert value == 1.0, name  # the head keeps the fine-tune's own rate
            continue
        inside = name.removeprefix("encoder.")
        depth = next(d for prefix, d in expected_depth.items() if inside.startswith(prefix + "."))
        assert value == pytest.approx(0.1 * 0.5 ** (4 - depth)), name
    # from the head down: final norm x1, last block x0.5, ..., patch embedding x0.5^4
    assert scales["encoder.norm.weight"] == pytest.approx(0.1)
    assert scales["encoder.patch_embed.weight"] == pytest.approx(0.1 * 0.5**4)


def test_off_by_default_and_for_encoders_without_blocks() -> None:
    transformer = Classifier(PatchTransformer(PatchTransformerConfig(depth=3), SPEC), 4)
    default = lr_scales(transformer, FinetuneConfig(), scale=0.1)
    assert {v for n, v in default.items() if n.startswith("encoder.")} == {0.1}
    cpc = Classifier(CPCEncoder(CPCEncoderConfig(), SPEC), 4)
    decayed = lr_scales(cpc, FinetuneConfig(layer_decay=0.5), scale=0.1)
    assert {v for n, v in decayed.items() if n.startswith("encoder.")} == {0.1}
