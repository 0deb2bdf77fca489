"""``st_mem_ssl`` against the official ST-MEM code (tests/fixtures/methods/st-mem-ssl): the same
weights and the same masking noise give the official loss, encoder tokens and reconstruction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor

from bench.encoders.base import InputSpec
from methods import st_mem_ssl
from methods.checkpoints.st_mem import StMem
from methods.checkpoints.vit1d_net import ViT1dConfig, timm_block_keys
from methods.st_mem_ssl import STMemSSL, STMemSSLConfig

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "methods" / "st-mem-ssl"
SPEC = InputSpec(n_leads=12, n_samples=750, sampling_rate=250)
FIXTURE_SIZE = ViT1dConfig("lead", width=32, depth=2, heads=2, mlp_dim=128, patch_size=75,
                           seq_len=750)  # fmt: skip
DECODER_KEYS = {
    "to_decoder_embedding.": "decoder.embed.",
    "decoder_norm.": "decoder.norm.",
    "decoder_head.": "decoder.head.",
}


def load(name: str) -> np.ndarray:
    return np.load(FIXTURE / f"{name}.npy")


def official_state() -> dict[str, Tensor]:
    return torch.load(FIXTURE / "full.pth", map_location="cpu", weights_only=True)


def method_state(official: dict[str, Tensor]) -> dict[str, Tensor]:
    """The official full model's keys -> ``STMemSSL``'s (the encoder through ``StMem.convert``)."""
    state = {f"encoder.{key}": value for key, value in StMem.convert(official).items()}
    for key, value in official.items():
        if key.startswith("decoder_blocks."):
            index, _, rest = key.removeprefix("decoder_blocks.").partition(".")
            state["decoder." + timm_block_keys(f"block{index}.{rest}")] = value
        elif key == "mask_embedding":
            state["decoder.mask_token"] = value.reshape(-1)
        elif key == "decoder_pos_embed":
            state["decoder.pos"] = value
        for old, new in DECODER_KEYS.items():
            if key.startswith(old):
                state[new + key.removeprefix(old)] = value
    return state


@pytest.fixture
def fixture_size(monkeypatch: pytest.MonkeyPatch) -> STMemSSLConfig:
    monkeypatch.setitem(st_mem_ssl.ENCODER_SIZES, "fixture", FIXTURE_SIZE)
    return STMemSSLConfig(size="fixture", decoder_dim=32, decoder_depth=2, decoder_heads=2)


def test_loss_tokens_and_reconstruction_equal_the_official_code(
    fixture_size: STMemSSLConfig,
) -> None:
    method = STMemSSL(fixture_size, SPEC)
    method.load_state_dict(method_state(official_state()), strict=True)
    x, noise = torch.from_numpy(load("inputs")), torch.from_numpy(load("noise"))
    with torch.no_grad():
        out = method.reconstruction(x, noise)
        embeddings = method.encoder.embed(x)
    np.testing.assert_array_equal(out["hidden"].numpy(), load("mask"))
    np.testing.assert_allclose(out["latent"].numpy(), load("latent"), rtol=0, atol=1e-5)
    np.testing.assert_allclose(out["prediction"].numpy(), load("prediction"), rtol=0, atol=1e-5)
    np.testing.assert_allclose(out["loss"].item(), load("loss"), rtol=1e-6)
    np.testing.assert_allclose(embeddings.numpy(), load("embeddings"), rtol=0, atol=1e-5)


def test_fresh_time_positions_are_the_official_frozen_sincos_tables(
    fixture_size: STMemSSLConfig,
) -> None:
    official = official_state()
    method = STMemSSL(fixture_size, SPEC)
    torch.testing.assert_close(method.encoder.tokens.pos, official["encoder.pos_embedding"])
    torch.testing.assert_close(method.decoder.pos, official["decoder_pos_embed"])
    trainable = {name for name, p in method.named_parameters() if p.requires_grad}
    assert "encoder.tokens.pos" not in trainable and "decoder.pos" not in trainable
    assert {"encoder.tokens.sep", "encoder.tokens.lead", "decoder.mask_token"} <= trainable
