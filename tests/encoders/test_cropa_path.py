"""The CroPA path is an execution choice: sparse and dense encoders give the same numbers."""

from __future__ import annotations

import pytest
import torch
from timm.models.vision_transformer import Block

from bench.encoders.base import InputSpec
from bench.encoders.cropa import cropa_mask
from bench.encoders.cropa_path import CroPAAttention
from bench.encoders.cropa_sparse import CroPAGrid
from bench.encoders.patch_transformer import (
    PatchTransformer,
    PatchTransformerConfig,
    set_attention_path,
)
from bench.errors import ConfigError

pytestmark = pytest.mark.numeric

SPEC = InputSpec(4, 60, 100)
CONFIG = PatchTransformerConfig(
    dim=16, depth=2, heads=2, patch_size=6, attention="cropa", pos_every_block=True
)


def run(path: str, keep: torch.Tensor | None = None) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Tokens and parameter gradients of a seeded encoder on a seeded batch through ``path``."""
    torch.manual_seed(0)
    encoder = PatchTransformer(CONFIG, SPEC)
    set_attention_path(encoder, path)  # type: ignore[arg-type]
    x = torch.randn(3, SPEC.n_leads, SPEC.n_samples, generator=torch.Generator().manual_seed(1))
    tokens = encoder.tokens(x, keep)
    (tokens * torch.linspace(-1, 1, tokens.numel()).view_as(tokens)).sum().backward()
    return tokens.detach(), [p.grad for p in encoder.parameters()]


@pytest.mark.parametrize("path", ["sparse", "auto"])
def test_sparse_encoder_equals_dense(path: str) -> None:
    dense, dense_grads = run("dense")
    sparse, sparse_grads = run(path)
    torch.testing.assert_close(sparse, dense, atol=1e-5, rtol=1e-5)
    for a, b in zip(dense_grads, sparse_grads, strict=True):
        torch.testing.assert_close(b, a, atol=1e-5, rtol=1e-5)


def test_arbitrary_kept_tokens_fall_back_to_dense() -> None:
    keep = torch.tensor([[0, 3, 7, 12], [1, 2, 9, 30], [5, 6, 20, 39]])
    dense, _ = run("dense", keep)
    sparse, _ = run("sparse", keep)  # not a grid: the dense mask runs, so equal bit for bit
    assert torch.equal(sparse, dense)


def test_weights_keep_timm_block_names() -> None:
    encoder = PatchTransformer(CONFIG, SPEC)
    block = Block(16, 2, qkv_bias=False)
    assert encoder.blocks[0].state_dict().keys() == block.state_dict().keys()


def test_unknown_path_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="attention path 'flex'"):
        set_attention_path(PatchTransformer(CONFIG, SPEC), "flex")  # type: ignore[arg-type]


def test_sparse_layer_applies_query_and_key_norms() -> None:
    """With timm's q/k norms the sparse layer still equals the dense one (outputs, gradients)."""
    torch.manual_seed(0)
    layer = CroPAAttention(16, num_heads=2, qk_norm=True, norm_layer=torch.nn.LayerNorm)
    with torch.no_grad():
        layer.q_norm.weight.uniform_(0.5, 1.5)
        layer.k_norm.bias.uniform_(-0.5, 0.5)
    leads, width = 3, 4
    x = torch.randn(2, leads * width, 16)
    mask = cropa_mask(
        torch.arange(leads).repeat_interleave(width), torch.arange(width).repeat(leads)
    )
    results = []
    for attn_mask in (mask, CroPAGrid(leads)):
        layer.zero_grad()
        out = layer(x, attn_mask=attn_mask)
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        results.append((out.detach(), [p.grad.clone() for p in layer.parameters()]))
    torch.testing.assert_close(results[1][0], results[0][0], atol=1e-5, rtol=1e-5)
    for got, want in zip(results[1][1], results[0][1], strict=True):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


@pytest.mark.slow
def test_sparse_encoder_compiles_with_and_without_gradients() -> None:
    torch.manual_seed(0)
    encoder = PatchTransformer(CONFIG, SPEC)
    set_attention_path(encoder, "sparse")
    x = torch.randn(2, SPEC.n_leads, SPEC.n_samples)
    compiled = torch.compile(encoder.tokens, backend="aot_eager")
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), encoder.tokens(x))
    grads = []
    for run_tokens in (encoder.tokens, compiled):
        encoder.zero_grad()
        run_tokens(x).square().sum().backward()
        grads.append([p.grad.clone() for p in encoder.parameters()])
    for got, want in zip(grads[1], grads[0], strict=True):
        torch.testing.assert_close(got, want)
