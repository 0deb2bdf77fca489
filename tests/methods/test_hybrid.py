"""``hybrid``: masked-only reconstruction loss, mask counts, NT-Xent, lambda, common checks."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor

from bench.config import from_dict
from bench.encoders.base import InputSpec
from bench.errors import ConfigError
from bench.method import METHODS
from bench.training.checkpoint import load_encoder
from bench.training.config import TrainConfig
from bench.training.loop import pretrain
from methods._masked_decoding import masked_mse, normalize_patches
from methods.hybrid_mae_contrastive import (
    HybridConfig,
    HybridMAEContrastive,
    nt_xent,
    random_column_mask,
    random_token_mask,
)

pytestmark = pytest.mark.numeric

SPEC = InputSpec(n_leads=3, n_samples=40, sampling_rate=20)  # 3 leads x 4 patches = 12 tokens
SMALL = {"patch_size": 10, "decoder_dim": 32, "projection_hidden": 32, "projection_dim": 16}


def build(seed: int = 0, **fields: object) -> HybridMAEContrastive:
    torch.manual_seed(seed)
    return HybridMAEContrastive(from_dict(HybridConfig, {**SMALL, **fields}), SPEC)


def signals(n: int = 8, length: int = 40, seed: int = 0) -> Tensor:
    """Smooth per-lead sine mixtures [n, 3, length]."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(length) / 10
    freq = 0.5 + torch.rand(n, 1, 1, generator=g)
    phase = 2 * math.pi * torch.rand(n, 3, 1, generator=g)
    return torch.sin(2 * math.pi * freq * t + phase) + 0.05 * torch.randn(n, 3, length, generator=g)


def memorable_batch(n: int = 8) -> Tensor:
    """Fixed waveforms per lead, with per-sample amplitudes and offsets to tell samples apart."""
    g = torch.Generator().manual_seed(0)
    t = torch.arange(40) / 10
    phase = torch.tensor([0.0, 1.0, 2.0]).reshape(1, 3, 1)
    amplitude = 0.5 + 1.5 * torch.rand(n, 3, 1, generator=g)
    offset = 2 * torch.rand(n, 3, 1, generator=g) - 1
    return amplitude * torch.sin(2 * math.pi * t + phase) + offset


def train_steps(method: HybridMAEContrastive, batch: Tensor, steps: int) -> list[float]:
    optimizer = torch.optim.AdamW(method.parameters(), lr=1e-2)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = method.loss(batch)["loss"]
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def test_registered_under_its_name() -> None:
    assert METHODS.get("hybrid") is HybridMAEContrastive


def test_reconstruction_loss_counts_masked_tokens_only() -> None:
    g = torch.Generator().manual_seed(0)
    prediction, target = torch.randn(4, 12, 10, generator=g), torch.randn(4, 12, 10, generator=g)
    _, masked = random_token_mask(4, 12, 9)
    mask = masked.unsqueeze(-1)
    value = masked_mse(prediction, target, mask)
    expected = (prediction - target).square()[masked].mean()
    torch.testing.assert_close(value, expected)
    visible_changed = torch.where(mask, prediction, prediction + 1e3)
    assert torch.equal(masked_mse(visible_changed, target, mask), value)
    masked_changed = torch.where(mask, prediction + 1.0, prediction)
    assert masked_mse(masked_changed, target, mask) > value + 0.5


@pytest.mark.parametrize(("ratio", "n_tokens"), [(0.75, 120), (0.6, 400), (0.3, 12), (0.5, 7)])
def test_every_sample_masks_round_ratio_tokens(ratio: float, n_tokens: int) -> None:
    torch.manual_seed(0)
    n_masked = round(ratio * n_tokens)
    keep, masked = random_token_mask(16, n_tokens, n_masked)
    assert masked.sum(dim=1).tolist() == [n_masked] * 16
    assert keep.shape == (16, n_tokens - n_masked)
    assert torch.all(keep[:, 1:] > keep[:, :-1])  # sorted, no repeats
    assert not masked.gather(1, keep).any()
    assert len({tuple(row) for row in masked.tolist()}) > 1  # independent per sample


@pytest.mark.parametrize("ratio", [0.75, 0.5, 0.3])
def test_method_masks_round_ratio_of_its_tokens(ratio: float) -> None:
    assert build(mask_type="token", mask_ratio=ratio).n_masked == round(ratio * 12)
    assert build(mask_type="column", mask_ratio=ratio).n_masked == round(ratio * 4)


def test_column_masks_hide_the_same_time_steps_in_every_lead() -> None:
    torch.manual_seed(0)
    keep, masked = random_column_mask(32, 3, 10, 7)
    grid = masked.reshape(32, 3, 10)
    assert torch.equal(grid, grid[:, :1].expand_as(grid))  # one column set for all leads
    assert grid[:, 0].sum(dim=1).tolist() == [7] * 32
    assert keep.shape == (32, 3 * 3) and torch.all(keep[:, 1:] > keep[:, :-1])
    assert not masked.gather(1, keep).any()
    assert len({tuple(row) for row in grid[:, 0].tolist()}) > 1  # independent per sample


def test_default_mask_is_token_and_column_masks_reach_the_method() -> None:
    assert HybridConfig().mask_type == "token"
    method = build(mask_type="column")
    torch.manual_seed(1)
    keep, masked = method.draw_masks(16, torch.device("cpu"))
    assert keep.shape == (16, 3 * 1)  # 3 leads x the one visible column
    grid = masked.reshape(16, 3, 4)
    assert torch.equal(grid, grid[:, :1].expand_as(grid)) and grid[:, 0].sum(1).eq(3).all()
    token_masked = build().draw_masks(64, torch.device("cpu"))[1]
    token_grid = token_masked.reshape(64, 3, 4)
    assert not torch.equal(token_grid, token_grid[:, :1].expand_as(token_grid))


def nt_xent_float64(a: Tensor, b: Tensor, temperature: float) -> float:
    """NT-Xent written out row by row in float64."""
    z = [v / v.norm() for v in torch.cat([a, b]).double()]
    n, total = a.shape[0], 0.0
    for i in range(2 * n):
        positive = (i + n) % (2 * n)
        scores = [math.exp(float(z[i] @ z[k]) / temperature) for k in range(2 * n) if k != i]
        total -= math.log(math.exp(float(z[i] @ z[positive]) / temperature) / sum(scores))
    return total / (2 * n)


def simplex(n: int) -> Tensor:
    """n unit vectors with pairwise cosine -1/(n-1), the spread NT-Xent's optimum has."""
    vertices = torch.eye(n) - 1.0 / n
    return vertices / vertices.norm(dim=1, keepdim=True)


@pytest.mark.parametrize("temperature", [0.1, 0.2, 0.5, 1.0])
def test_nt_xent_matches_a_float64_hand_computation(temperature: float) -> None:
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(5, 7, generator=g), torch.randn(5, 7, generator=g)
    expected = nt_xent_float64(a, b, temperature)
    assert nt_xent(a, b, temperature).item() == pytest.approx(expected, rel=1e-5)


def test_nt_xent_is_minimal_for_identical_views_and_large_when_shuffled() -> None:
    n, temperature = 6, 0.2
    a = simplex(n)
    identical = nt_xent(a, a.clone(), temperature).item()
    closed_form = math.log(1 + (2 * n - 2) * math.exp((-1 / (n - 1) - 1) / temperature))
    assert identical == pytest.approx(closed_form, rel=1e-5)
    assert identical == pytest.approx(nt_xent_float64(a, a, temperature), rel=1e-5)
    shuffled = nt_xent(a, a.roll(1, dims=0), temperature).item()
    assert shuffled > identical + 5.0
    g = torch.Generator().manual_seed(2)
    for _ in range(20):
        perturbed = a + 0.05 * torch.randn(n, n, generator=g)
        assert nt_xent(a, perturbed, temperature).item() > identical


def test_lambda_zero_gives_exactly_the_mae_loss() -> None:
    batch = signals()
    plain, regularised = build(contrastive_weight=0.0), build(contrastive_weight=0.5)
    torch.manual_seed(7)
    out_plain = plain.loss(batch)
    torch.manual_seed(7)
    out_regularised = regularised.loss(batch)
    assert torch.equal(out_plain["loss"], out_plain["mae"])
    assert torch.equal(out_plain["mae"], out_regularised["mae"])
    torch.testing.assert_close(
        out_regularised["loss"], out_regularised["mae"] + 0.5 * out_regularised["contrastive"]
    )
    out_plain["loss"].backward()
    assert all(not p.grad.any() for p in plain.projector.parameters())


def test_targets_are_normalised_patches_of_the_noise_free_view() -> None:
    method = build(aug_noise_std=0.0, aug_shift=0.0)
    x = signals(4)
    torch.manual_seed(0)
    view, clean = method.augment(x)
    assert torch.equal(view, clean)
    ratio = view / x
    assert torch.allclose(ratio, ratio[..., :1].expand_as(ratio), atol=1e-4)  # one factor a lead
    assert ((ratio > 0.8 - 1e-6) & (ratio < 1.2 + 1e-6)).all()
    targets = method.reconstruction_targets(x)
    assert targets.shape == (4, 12, 10)
    torch.testing.assert_close(targets.mean(-1), torch.zeros(4, 12), atol=1e-5, rtol=0)
    patches = x.reshape(4, 12, 10).double()
    patch_var = patches.var(-1, unbiased=False)
    crop_var = x.double().reshape(4, -1).var(-1, unbiased=False)[:, None]
    expected_std = (patch_var / (patch_var + 1e-2 * crop_var)).sqrt()  # eps relative to crop
    torch.testing.assert_close(
        targets.std(-1, unbiased=False).double(), expected_std, atol=1e-4, rtol=0
    )
    assert (expected_std > 0.95).all()  # a normal patch stays close to unit variance
    raw = build(norm_targets=False).reconstruction_targets(x)
    assert torch.equal(raw, x.reshape(4, 3, 4, 10).reshape(4, 12, 10))


def test_flat_patches_get_near_zero_targets_at_any_signal_scale() -> None:
    x = signals(4)
    x[:, 1, 10:20] = 0.3 + 1e-5 * torch.randn(4, 10)  # a flat patch: lead 1, patch 1
    for amplitude in (1e-3, 1.0, 1e3):
        targets = build().reconstruction_targets(amplitude * x)
        flat, normal = targets[:, 5], targets[:, 4]  # lead-major: token 5 = lead 1, patch 1
        assert flat.abs().max() < 1e-2
        assert normal.std(-1, unbiased=False).min() > 0.9
    patches = (1e3 * x).reshape(4, 12, 10)
    absolute = normalize_patches(patches, eps=1e-6, scale=torch.ones(1, 1, 1))
    assert absolute[:, 5].std(-1, unbiased=False).min() > 0.9  # MAE's absolute eps: noise x100
    assert torch.equal(normalize_patches(torch.zeros(2, 3, 5)), torch.zeros(2, 3, 5))


def test_loss_is_finite_with_its_parts() -> None:
    out = build().loss(signals())
    assert set(out) == {"loss", "mae", "contrastive"}
    assert all(torch.isfinite(v) and v.dim() == 0 for v in out.values())
    torch.testing.assert_close(out["loss"], out["mae"] + 0.1 * out["contrastive"])


def test_training_on_a_fixed_batch_lowers_the_loss() -> None:
    losses = train_steps(build(), memorable_batch(), steps=30)
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])


def test_gradients_reach_every_encoder_parameter() -> None:
    method = build()
    method.loss(signals())["loss"].backward()
    for name, param in method.encoder.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_embed_is_the_mean_of_all_unmasked_tokens() -> None:
    method = build().eval()
    x = signals(5)
    with torch.no_grad():
        embedding = method.encoder.embed(x)
        assert embedding.shape == (5, 64)
        torch.testing.assert_close(embedding, method.encoder.tokens(x).mean(dim=1))


def test_deterministic_under_a_fixed_seed() -> None:
    batch = signals()
    runs = []
    for seed in (3, 3, 4):
        method = build(seed=seed)
        torch.manual_seed(seed)
        losses = train_steps(method, batch, steps=3)
        runs.append((losses, [p.detach().clone() for p in method.parameters()]))
    assert runs[0][0] == runs[1][0]
    assert all(torch.equal(p, q) for p, q in zip(runs[0][1], runs[1][1], strict=True))
    assert runs[0][0] != runs[2][0]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"mask_raito": 0.5}, "unknown field"),
        ({"mask_ratio": "high"}, "mask_ratio"),
        ({"mask_ratio": 1.0}, "mask_ratio"),
        ({"mask_ratio": 0.0}, "mask_ratio"),
        ({"temperature": 0.0}, "temperature"),
        ({"temperature": 1.5}, "temperature"),
        ({"contrastive_weight": -0.1}, "contrastive_weight"),
        ({"decoder_depth": 0}, "decoder_depth"),
        ({"decoder_dim": 30}, "decoder_dim"),
        ({"size": "huge"}, "size"),
        ({"aug_scale": 1.0}, "aug_scale"),
        ({"mask_type": "lead"}, "mask_type"),
        ({"norm_eps": 0.0}, "norm_eps"),
    ],
)
def test_bad_config_is_a_clear_error(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        from_dict(HybridConfig, fields)


def test_ratio_that_masks_no_token_is_rejected_for_the_input() -> None:
    with pytest.raises(ConfigError, match="mask_ratio"):
        build(mask_type="token", mask_ratio=0.02)  # round(0.02 * 12) = 0 masked tokens
    with pytest.raises(ConfigError, match="mask_ratio"):
        build(mask_type="column", mask_ratio=0.1)  # round(0.1 * 4) = 0 masked columns


def test_shared_loop_checkpoint_reloads_the_same_encoder(tmp_path: Path) -> None:
    records = signals(24, length=60).numpy()
    config = TrainConfig(epochs=1, batch_size=8, lr=1e-3, warmup_epochs=0, device="cpu")
    method = build()
    result = pretrain(method, records, config, tmp_path, progress=False)
    assert result.finished and result.steps == 3
    assert all(math.isfinite(row["contrastive"]) for row in result.history)
    encoder = load_encoder(result.checkpoint)
    x = signals(4, seed=9)
    with torch.no_grad():
        torch.testing.assert_close(encoder.embed(x), method.encoder.eval().embed(x))
