"""Time-resolved ``features`` of every encoder: shape, stride, and consistency with ``embed``."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from bench.encoders.base import Encoder, InputSpec
from bench.encoders.patch_transformer import PatchTransformer
from bench.encoders.unet1d import UNet1d
from bench.encoders.xresnet1d import XResNet1d
from methods.cpc_encoder import CPCEncoder

pytestmark = pytest.mark.numeric

SPEC = InputSpec(n_leads=12, n_samples=250, sampling_rate=100)


def build(name: str) -> Encoder:
    torch.manual_seed(0)
    if name == "patch_transformer":
        return PatchTransformer.from_size("tiny", SPEC)
    if name == "cropa":  # ECG-JEPA's wiring
        return PatchTransformer.from_size("tiny", SPEC, attention="cropa", pos_every_block=True)
    if name == "xresnet1d":
        return XResNet1d.from_size("tiny", SPEC)
    if name == "cpc":
        return CPCEncoder.from_size("tiny", SPEC)
    return UNet1d.from_size("tiny", SPEC)


ENCODERS = ("patch_transformer", "cropa", "xresnet1d", "cpc", "unet1d")
STRIDES = {"patch_transformer": 25, "cropa": 25, "xresnet1d": 32, "cpc": 1, "unet1d": 1}


@pytest.mark.parametrize("name", ENCODERS)
@pytest.mark.parametrize("samples", [250, 500])
def test_features_are_batch_x_steps_x_dim_at_the_stated_stride(name: str, samples: int) -> None:
    encoder = build(name).eval()
    with torch.no_grad():
        features = encoder.features(torch.randn(3, 12, samples))
    assert encoder.feature_stride == STRIDES[name]
    assert features.shape == (3, math.ceil(samples / encoder.feature_stride), encoder.feature_dim)
    assert torch.isfinite(features).all()


def _pooled(name: str, features: Tensor) -> Tensor:
    """How each encoder's embed pools its features over time."""
    if name == "xresnet1d":
        return torch.cat([features.mean(1), features.amax(1)], dim=1)
    if name == "cpc":
        return torch.cat([features.mean(1), features.amax(1), features[:, -1]], dim=1)
    return features.mean(1)  # mean pooling: patch transformers, U-Net


@pytest.mark.parametrize("name", ENCODERS)
def test_embed_is_the_documented_pooling_of_features(name: str) -> None:
    encoder = build(name).eval()
    x = torch.randn(2, 12, 250)
    with torch.no_grad():
        torch.testing.assert_close(encoder.embed(x), _pooled(name, encoder.features(x)))


def test_patch_transformer_steps_are_the_lead_mean_of_each_patch_column() -> None:
    encoder = build("patch_transformer").eval()
    x = torch.randn(2, 12, 250)
    with torch.no_grad():
        tokens = encoder.tokens(x).reshape(2, 12, 10, encoder.embed_dim)
        torch.testing.assert_close(encoder.features(x), tokens.mean(dim=1))


def test_cpc_features_are_causal_in_time() -> None:
    encoder = build("cpc").eval()
    x = torch.randn(1, 12, 250)
    changed = x.clone()
    changed[..., 200:] += 1.0
    with torch.no_grad():
        before, after = encoder.features(x), encoder.features(changed)
    torch.testing.assert_close(before[:, :200], after[:, :200])
    assert not torch.allclose(before[:, 200:], after[:, 200:])


@pytest.mark.parametrize("samples", [7, 250, 257])
def test_unet_keeps_any_length_and_is_local(samples: int) -> None:
    encoder = build("unet1d").eval()
    x = torch.randn(1, 12, samples)
    with torch.no_grad():
        assert encoder.features(x).shape == (1, samples, 16)
    if samples == 257:  # a change at the end leaves the start untouched (receptive field)
        changed = x.clone()
        changed[..., -1] += 5.0
        with torch.no_grad():
            torch.testing.assert_close(
                encoder.features(x)[:, :100], encoder.features(changed)[:, :100]
            )


def test_an_encoder_without_features_cannot_be_built() -> None:
    class EmbedOnly(Encoder):
        config_class = dict

        def embed(self, x: Tensor) -> Tensor:
            return x.mean(-1)

    with pytest.raises(TypeError, match="features"):
        EmbedOnly({}, SPEC)
