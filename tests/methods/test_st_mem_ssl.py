"""``st_mem_ssl``: per-lead masking, the hidden-patch loss, what the encoder sees, the loop."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import Tensor

from bench.config import from_dict
from bench.encoders.base import InputSpec
from bench.errors import ConfigError
from bench.grid.method_groups import expand_methods
from bench.training.checkpoint import load_encoder
from bench.training.config import TrainConfig
from bench.training.loop import pretrain
from methods.st_mem_ssl import STMemSSL, STMemSSLConfig, hidden_patch_loss, patch_targets

SPEC = InputSpec(n_leads=3, n_samples=100, sampling_rate=100)  # 3 leads x 10 patches of 10
SMALL = {"patch_size": 10, "decoder_dim": 16, "decoder_heads": 2}


def build(seed: int = 0, **fields: object) -> STMemSSL:
    torch.manual_seed(seed)
    return STMemSSL(from_dict(STMemSSLConfig, {**SMALL, **fields}), SPEC)


def signals(n: int = 6, seed: int = 0) -> Tensor:
    """Sines of per-record amplitude and phase, one frequency per lead: [n, 3, 100]."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(100) / 100
    freq = torch.tensor([1.0, 2.0, 3.0]).reshape(1, 3, 1)
    amplitude = 0.5 + torch.rand(n, 1, 1, generator=g)
    phase = 2 * math.pi * torch.rand(n, 1, 1, generator=g)
    return amplitude * torch.sin(2 * math.pi * freq * t + phase) + 0.1 * torch.randn(
        n, 3, 100, generator=g
    )


def test_every_lead_hides_its_own_patches_at_the_ratio() -> None:
    method = build()
    noise = torch.rand(64, 3, 10, generator=torch.Generator().manual_seed(1))
    keep = method.keep_indices(noise)
    assert keep.shape == (64, 3, 2)  # int(10 * 0.25) kept, 8 of 10 hidden
    assert (keep.sort(dim=2).values.diff(dim=2) > 0).all()  # distinct patches
    assert (noise.gather(2, keep).amax(dim=2) <= noise.sort(dim=2).values[:, :, 1]).all()
    hidden = method.reconstruction(signals(64), noise)["hidden"]
    assert (hidden.sum(dim=2) == 8).all()
    differ = (hidden[:, 0] != hidden[:, 1]).any(dim=1).float().mean()
    assert differ > 0.9  # the leads' masks are drawn independently


def test_the_encoder_never_sees_the_hidden_patches() -> None:
    method = build().eval()
    x = signals(4)
    noise = torch.rand(4, 3, 10)
    hidden = method.reconstruction(x, noise)["hidden"]
    changed = x.reshape(4, 3, 10, 10).clone()
    changed[hidden] = 50.0 * torch.randn_like(changed[hidden])
    with torch.no_grad():
        before = method.encode_visible(x, method.keep_indices(noise))
        after = method.encode_visible(changed.reshape(4, 3, 100), method.keep_indices(noise))
    torch.testing.assert_close(before, after)


def test_targets_are_patches_normalised_by_their_own_mean_and_unbiased_std() -> None:
    x = torch.zeros(1, 1, 4)
    x[0, 0] = torch.tensor([1.0, 2.0, 3.0, 6.0])  # mean 3, unbiased var 14 / 3
    target = patch_targets(x, 4, normalise=True, eps=0.0)
    expected = (torch.tensor([1.0, 2.0, 3.0, 6.0]) - 3.0) / math.sqrt(14 / 3)
    torch.testing.assert_close(target.reshape(-1), expected)
    torch.testing.assert_close(patch_targets(x, 2, normalise=False, eps=0.0).reshape(-1), x[0, 0])


def test_loss_averages_patch_errors_over_the_hidden_patches_only() -> None:
    prediction = torch.zeros(1, 1, 3, 2)
    target = torch.tensor([[[[1.0, 3.0], [2.0, 2.0], [100.0, 100.0]]]])  # errors 5, 4, 1e4
    hidden = torch.tensor([[[True, True, False]]])
    assert hidden_patch_loss(prediction, target, hidden).item() == pytest.approx(4.5)


def test_the_loss_ignores_one_affine_map_of_the_whole_crop() -> None:
    """Why the paper's z-score of each crop is left out: LayerNorm(patch) and normalised
    targets undo it (up to their eps)."""
    method = build().eval()
    x, noise = signals(4), torch.rand(4, 3, 10)
    with torch.no_grad():
        plain = method.reconstruction(x, noise)["loss"]
        scaled = method.reconstruction(3.0 * x - 0.7, noise)["loss"]
        raw = build(norm_targets=False).eval().reconstruction(3.0 * x - 0.7, noise)["loss"]
        raw_plain = build(norm_targets=False).eval().reconstruction(x, noise)["loss"]
    torch.testing.assert_close(scaled, plain, rtol=1e-4, atol=0)
    assert not torch.isclose(raw, raw_plain, rtol=1e-2)


def test_shapes_and_embed_is_the_plain_input_representation() -> None:
    method = build()
    x = signals(5)
    out = method.reconstruction(x, torch.rand(5, 3, 10))
    assert out["prediction"].shape == (5, 3, 10, 10)
    assert out["latent"].shape == (5, 3 * (2 + 2), 64)
    assert method.encoder.embed(x).shape == (5, 64)
    assert method.encoder.features(x).shape == (5, 10, 64)
    assert method.encoder.feature_stride == 10


def test_training_reaches_every_trainable_parameter_but_the_frozen_positions() -> None:
    method = build()
    method.loss(signals(4))["loss"].backward()
    for name, parameter in method.named_parameters():
        if name == "encoder.tokens.pos":
            assert not parameter.requires_grad
        else:
            assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"patch_size": 30}, "not a whole number of 30-sample patches"),
        ({"mask_ratio": 0.95}, "keeps 0 of a lead's 10 patches"),
        ({"size": "huge"}, "size = 'huge' is not one of tiny, small, base"),
        ({"decoder_dim": 15, "decoder_heads": 3}, "decoder_dim = 15 must be even"),
    ],
)
def test_bad_config_is_a_clear_error(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build(**fields)


def test_listed_with_the_comparators_not_in_all() -> None:
    assert "st_mem_ssl" not in expand_methods(("all",))
    comparators = expand_methods(("comparators",))
    assert {"st_mem_ssl", "random_init[st_mem_ssl]", "supervised[st_mem_ssl]"} <= set(comparators)


def test_shared_loop_checkpoint_reloads_the_same_encoder(tmp_path: Path) -> None:
    config = TrainConfig(epochs=1, batch_size=8, lr=1e-3, warmup_epochs=0, device="cpu")
    method = build()
    result = pretrain(method, signals(24).numpy(), config, tmp_path, progress=False)
    assert result.finished and result.steps == 3
    assert all(math.isfinite(row["loss"]) for row in result.history)
    encoder = load_encoder(result.checkpoint)
    x = signals(4, seed=9)
    with torch.no_grad():
        torch.testing.assert_close(encoder.embed(x), method.encoder.eval().embed(x))
