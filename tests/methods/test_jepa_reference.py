"""ECG-JEPA's defaults are the reference code's: checked by numbers computed here, not by it.

Teacher in training mode (stochastic depth in the targets), one mask per batch, blocks that
never hide the last time column, the 2-D sin-cos code with time first (float64), the
predictor's one-lead grid code, the 1/sqrt(2 layer) init of block outputs, LayerNorm eps 1e-5,
weight decay on the mask token and the EMA momentum schedule.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import Tensor

from bench.training.optim import parameter_groups
from tests.doubles.jepa import CPU, SPEC, P, build, ecg

pytestmark = pytest.mark.numeric


def test_target_encoder_applies_stochastic_depth_in_training_by_default() -> None:
    x = ecg(batch=8)
    method = build(drop_path=0.5).train()
    assert method.target_encoder.training
    torch.manual_seed(0)
    first = method.targets(x)
    second = method.targets(x)
    assert (first - second).abs().max() > 1e-3  # paths dropped at random, as in training
    for name in ("eval", "off"):
        other = (
            build(drop_path=0.5).eval()
            if name == "eval"
            else build(drop_path=0.5, target_drop_path=False).train()
        )
        assert not other.target_encoder.training
        torch.testing.assert_close(other.targets(x), other.targets(x), atol=0, rtol=0)


@pytest.mark.parametrize("mask_type", ["multiblock", "random"])
def test_one_mask_per_batch_by_default_one_per_sample_on_request(mask_type: str) -> None:
    torch.manual_seed(0)
    shared = build(mask_type=mask_type).draw_mask(16, CPU)
    assert (shared.masked == shared.masked[0]).all() and shared.valid.all()
    torch.manual_seed(0)
    own = build(mask_type=mask_type, mask_per="sample").draw_mask(16, CPU)
    assert len({tuple(row.tolist()) for row in own.masked}) > 8


def test_default_blocks_never_hide_the_last_time_column() -> None:
    hidden = {}
    for reach_end in (False, True):
        method = build(blocks_reach_end=True) if reach_end else build()
        torch.manual_seed(0)
        masks = torch.cat([method.draw_mask(1, CPU).masked for _ in range(400)])
        hidden[reach_end] = masks.float().mean(dim=0)
    assert hidden[False][-1] == 0 and (hidden[False][:-1] > 0).all()
    assert hidden[True][-1] > 0


def reference_1d(positions: np.ndarray, dim: int) -> np.ndarray:
    """Float64 1-D sin-cos code, written out here: [sin(p w_k), cos(p w_k)], w_k = 1e4^(-2k/dim)."""
    omega = 1.0 / 10000.0 ** (np.arange(dim // 2, dtype=np.float64) / (dim / 2))
    angles = positions.astype(np.float64)[:, None] * omega[None, :]
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)


def final_norm_input(module: torch.nn.Module, norm: torch.nn.Module, run: object) -> Tensor:
    """What ``norm`` receives when ``run()`` is called with every block made the identity."""
    with torch.no_grad():
        for block in module.blocks:  # type: ignore[union-attr]
            for layer in (block.attn.proj, block.mlp.fc2):
                layer.weight.zero_()
                layer.bias.zero_()
    seen: list[Tensor] = []
    handle = norm.register_forward_hook(lambda _m, args, _out: seen.append(args[0]))
    with torch.no_grad():
        run()  # type: ignore[operator]
    handle.remove()
    return seen[0]


def test_encoder_positions_are_time_code_then_lead_code_in_float64() -> None:
    method = build().eval()
    encoder = method.encoder
    with torch.no_grad():
        encoder.patch_embed.weight.zero_()
        encoder.patch_embed.bias.zero_()
    summed = final_norm_input(encoder, encoder.norm, lambda: encoder.tokens(ecg(batch=1)))
    lead, time = np.divmod(np.arange(SPEC.n_leads * P), P)  # lead-major tokens
    half = encoder.embed_dim // 2
    expected = np.concatenate([reference_1d(time, half), reference_1d(lead, half)], axis=1)
    depth = len(encoder.blocks)  # positions are added before every block
    expected32 = torch.from_numpy(expected).float()  # rounded once from float64
    torch.testing.assert_close(summed[0], depth * expected32, atol=0, rtol=0)


def test_predictor_positions_are_a_one_lead_grid_code() -> None:
    method = build().eval()
    predictor = method.predictor
    with torch.no_grad():
        predictor.embed.weight.zero_()
        predictor.embed.bias.zero_()
        predictor.mask_token.zero_()
    torch.manual_seed(1)
    mask = method.draw_mask(2, CPU)
    context = torch.randn(2, SPEC.n_leads, mask.visible.shape[1], method.encoder.embed_dim)
    summed = final_norm_input(predictor, predictor.norm, lambda: predictor(context, mask))
    dim = predictor.dim
    time_code = reference_1d(np.arange(P), dim // 2)  # dim / 4 frequencies
    constant = np.concatenate([np.zeros((P, dim // 4)), np.ones((P, dim // 4))], axis=1)
    expected = torch.from_numpy(np.concatenate([time_code, constant], axis=1)).float()
    depth = len(predictor.blocks)
    for row in summed:  # every (sample, lead) gets the same code of its time positions
        torch.testing.assert_close(row, depth * expected, atol=0, rtol=0)


@pytest.mark.parametrize("part", ["encoder", "target_encoder", "predictor"])
def test_block_output_layers_start_scaled_by_one_over_sqrt_two_layer(part: str) -> None:
    scaled, plain = build(seed=5), build(seed=5, depth_scaled_init=False)
    blocks = list(getattr(scaled, part).blocks)
    assert len(blocks) >= 2
    for layer, (a, b) in enumerate(zip(blocks, getattr(plain, part).blocks, strict=True), 1):
        for name in ("attn.proj.weight", "mlp.fc2.weight"):
            torch.testing.assert_close(
                a.get_parameter(name), b.get_parameter(name) / math.sqrt(2 * layer), atol=0, rtol=0
            )
        for name in ("attn.qkv.weight", "mlp.fc1.weight", "attn.proj.bias"):
            assert torch.equal(a.get_parameter(name), b.get_parameter(name))


def test_every_layer_norm_uses_eps_1e_5() -> None:
    method = build()
    norms = [m for m in method.modules() if isinstance(m, torch.nn.LayerNorm)]
    assert len(norms) == 3 * (2 * 2 + 1)  # two encoders and the predictor: 2 blocks x 2 + final
    assert {m.eps for m in norms} == {1e-5}
    assert {m.eps for m in build(norm_eps=1e-6).modules() if isinstance(m, torch.nn.LayerNorm)} == {
        1e-6
    }


def decayed_names(method: torch.nn.Module) -> set[str]:
    """Names of the parameters in the weight-decay group of ``parameter_groups``."""
    groups = parameter_groups(method, weight_decay=0.05)
    decayed = {id(p) for g in groups if g["weight_decay"] > 0 for p in g["params"]}
    return {name for name, p in method.named_parameters() if id(p) in decayed}


def test_weight_decay_groups_are_the_reference_codes_mask_token_included() -> None:
    method = build()
    # the reference rule: decay unless "bias" is in the name or the parameter is 1-D, where
    # its mask token has shape [1, 1, dim] (ours is [dim], the same values)
    reference = {
        name
        for name, p in method.named_parameters()
        if p.requires_grad and "bias" not in name and (p.ndim != 1 or name.endswith("mask_token"))
    }
    assert "predictor.mask_token" in reference
    assert decayed_names(method) == reference
    assert decayed_names(build(mask_token_decay=False)) == reference - {"predictor.mask_token"}


def test_ema_momentum_is_the_reference_schedule() -> None:
    method = build()  # ema_start 0.996, ema_end 1.0
    total = 1000
    # the reference code's generator, written out: update i (0-based) uses m0 + i (m1 - m0) / T
    reference = [0.996 + i * (1.0 - 0.996) / total for i in range(total)]
    ours = [method.momentum(step, total) for step in range(1, total + 1)]
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-15)
    assert ours[0] == 0.996 and ours[-1] == pytest.approx(0.999996, abs=1e-12)
