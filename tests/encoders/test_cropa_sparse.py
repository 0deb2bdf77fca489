"""Sparse CroPA equals the dense masked-SDPA reference: outputs and gradients, fp32, 1e-5."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from bench.encoders.cropa import cropa_mask
from bench.encoders.cropa_path import resolve_attention_path
from bench.encoders.cropa_sparse import CroPAGrid, cropa_grid_attention

pytestmark = pytest.mark.numeric

PAD = -1


def context_layout(visible: list[list[int]], leads: int) -> tuple[Tensor, Tensor, Tensor]:
    """Lead-major ids of per-sample visible columns padded to the longest (PAD ids at filler),
    and the valid mask [B, W]: the layout of ECG-JEPA's context encoder."""
    width = max(len(columns) for columns in visible)
    valid = torch.tensor([[j < len(c) for j in range(width)] for c in visible])
    times = torch.tensor([c + [0] * (width - len(c)) for c in visible])
    lead_ids = torch.arange(leads).view(1, leads, 1).expand(len(visible), leads, width)
    time_ids = times.unsqueeze(1).expand(len(visible), leads, width)
    ok = valid.unsqueeze(1).expand_as(lead_ids)
    pad = torch.full_like(lead_ids, PAD)
    flat = (len(visible), leads * width)
    return (
        torch.where(ok, lead_ids, pad).reshape(flat),
        torch.where(ok, time_ids, pad).reshape(flat),
        valid,
    )


def both_paths(
    lead_ids: Tensor, time_ids: Tensor, grid: CroPAGrid, heads: int = 3, dim: int = 8
) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...], Tensor]:
    """(dense output + grads, sparse output + grads, real-token mask [B, K]) on random q/k/v."""
    generator = torch.Generator().manual_seed(0)
    batch, n_tokens = lead_ids.shape if lead_ids.dim() == 2 else (2, lead_ids.shape[0])
    shape = (batch, heads, n_tokens, dim)
    qkv = [torch.randn(shape, generator=generator) for _ in range(3)]
    weight = torch.randn(shape, generator=generator)
    real = (lead_ids != PAD).expand(batch, n_tokens) if lead_ids.dim() == 1 else lead_ids != PAD
    keep = real.view(batch, 1, n_tokens, 1).float()

    def run(attend: object) -> tuple[Tensor, ...]:
        inputs = [t.clone().requires_grad_() for t in qkv]
        out = attend(*inputs)  # type: ignore[operator]
        (out * weight * keep).sum().backward()
        return (out * keep, *(t.grad for t in inputs))

    mask = cropa_mask(lead_ids, time_ids)
    dense = run(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
    sparse = run(lambda q, k, v: cropa_grid_attention(q, k, v, grid))
    return dense, sparse, real


def assert_close(dense: tuple[Tensor, ...], sparse: tuple[Tensor, ...]) -> None:
    for name, a, b in zip(("out", "dq", "dk", "dv"), dense, sparse, strict=True):
        torch.testing.assert_close(b, a, atol=1e-5, rtol=1e-5, msg=f"{name} differs")


@pytest.mark.parametrize(("leads", "width"), [(8, 50), (3, 7), (1, 5), (12, 1)])
def test_full_grid_equals_dense_masked_attention(leads: int, width: int) -> None:
    lead_ids = torch.arange(leads).repeat_interleave(width)
    time_ids = torch.arange(width).repeat(leads)
    dense, sparse, _ = both_paths(lead_ids, time_ids, CroPAGrid(leads))
    assert_close(dense, sparse)


def test_padded_context_equals_dense_on_real_tokens() -> None:
    visible = [[0, 3, 4, 9], [1, 2], [5, 6, 7, 8], [9]]
    lead_ids, time_ids, valid = context_layout(visible, leads=4)
    dense, sparse, real = both_paths(lead_ids, time_ids, CroPAGrid(4, valid))
    assert real.sum() == 4 * (4 + 2 + 4 + 1)
    assert_close(dense, sparse)


def test_each_query_sees_its_lead_and_its_column_once() -> None:
    """Equal scores and one-hot values: a query's output row is its attention weights, 1/57 on
    each key of its lead or column at 8 x 50 (the query itself once) and 0 elsewhere."""
    leads, width = 8, 50
    n_tokens = leads * width
    zeros = torch.zeros(1, 1, n_tokens, n_tokens)
    one_hot = torch.eye(n_tokens).view(1, 1, n_tokens, n_tokens)
    weights = cropa_grid_attention(zeros, zeros, one_hot, CroPAGrid(leads))[0, 0]
    allowed = cropa_mask(
        torch.arange(leads).repeat_interleave(width), torch.arange(width).repeat(leads)
    )
    assert allowed.sum(dim=1).tolist() == [width + leads - 1] * n_tokens
    torch.testing.assert_close(weights, allowed / (width + leads - 1))


def test_bad_layouts_are_refused() -> None:
    q = torch.zeros(2, 1, 10, 4)
    with pytest.raises(ValueError, match="grid of 3 leads"):
        cropa_grid_attention(q, q, q, CroPAGrid(3))
    with pytest.raises(ValueError, match="valid must be"):
        cropa_grid_attention(q, q, q, CroPAGrid(2, torch.ones(2, 4, dtype=torch.bool)))


def test_gradients_through_low_precision_inputs_are_cast_back() -> None:
    q = torch.randn(2, 2, 12, 4, dtype=torch.bfloat16, requires_grad=True)
    out = cropa_grid_attention(q, q, q, CroPAGrid(3))
    out.float().sum().backward()
    assert out.dtype == torch.bfloat16 and q.grad is not None and q.grad.dtype == torch.bfloat16


@pytest.mark.parametrize(
    ("path", "device", "leads", "columns", "expected"),
    [
        ("auto", "cpu", 8, 50, "sparse"),
        ("auto", "cpu", 8, 16, "sparse"),
        ("auto", "cpu", 8, 15, "dense"),
        ("auto", "cuda", 8, 50, "dense"),
        ("auto", "cpu", 1, 50, "dense"),
        ("auto", "mps", 8, 50, "dense"),
        ("dense", "cpu", 8, 50, "dense"),
        ("sparse", "cuda", 8, 10, "sparse"),
    ],
)
def test_auto_rule_is_a_fixed_table(
    path: str, device: str, leads: int, columns: int, expected: str
) -> None:
    grid = CroPAGrid(leads)
    chosen = resolve_attention_path(path, torch.device(device), grid, leads * columns)  # type: ignore[arg-type]
    assert chosen == expected


def test_unknown_path_is_refused() -> None:
    with pytest.raises(ValueError, match="attention path 'flash'"):
        resolve_attention_path("flash", torch.device("cpu"), CroPAGrid(2), 8)  # type: ignore[arg-type]
