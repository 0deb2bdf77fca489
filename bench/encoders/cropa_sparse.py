"""Exact sparse Cross-Pattern Attention on a (lead x column) token grid.

CroPA lets token (lead c, column i) attend to (c', i') only when ``c == c'`` or ``i == i'``:
with L leads and W columns each query sees W + L - 1 of the L * W keys (57 of 400 at 8 x 50).
The dense reference (``bench.encoders.cropa.cropa_mask`` into SDPA) scores all L * W keys and
throws most away; this path scores only the allowed ones:

- within-lead scores ``[B * H * L, W, W]`` (every column of the query's lead, itself included);
- within-column scores ``[B * H * W, L, L]`` (the other leads at the query's column; the query
  itself is masked there, so it is counted once);
- one softmax over both parts, shared max and sum (their log-sum-exp), then each part's
  weights times its values. The backward pass is written out (``GridAttention``): it keeps
  only the two small weight tensors, not a graph of a dozen intermediate ops.

Tokens must be lead-major on a grid where column j is the same time in every lead: the full
input, or a context whose visible columns are shared by all leads, padded per sample with
filler columns (``valid`` False there), as ECG-JEPA's context encoder builds it. Real tokens
never see filler; a filler query sees its own lead's real keys and itself (so no row is
empty) and its output is meaningless, as on the dense path. Computation is in float32 (inputs
of lower precision are cast up and the result cast back), without attention dropout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor


@dataclass(frozen=True)
class CroPAGrid:
    """Layout of lead-major tokens: ``n_leads`` rows of ``K / n_leads`` columns.

    ``valid``: bool ``[B, W]``, False at a sample's filler columns; ``None`` = all real.
    """

    n_leads: int
    valid: Tensor | None = None


class GridAttention(torch.autograd.Function):
    """CroPA on a grid from packed ``qkv``: forward and a hand-written backward (flash style).

    ``qkv`` is ``[B, N, 3, H, d]`` (a linear layer's output, tokens lead-major), the result
    ``[B, N, H, d]`` and the gradient ``[B, N, 3, H, d]``: each of q, k and v is copied once
    into the lead-major and once into the column-major layout of the products, and the two
    parts of every result are summed straight into the token-major layout, so neither the
    caller nor autograd copies again.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, qkv: Tensor, n_leads: int, valid: Tensor | None
    ) -> Tensor:
        batch, n_tokens, _, heads, dim = qkv.shape
        leads, width = n_leads, n_tokens // n_leads
        scale = dim**-0.5
        lead = qkv.unflatten(1, (leads, width)).permute(3, 0, 4, 1, 2, 5)  # [3, B, H, L, W, d]
        lead = lead.contiguous()
        column = lead.transpose(3, 4).contiguous()  # [3, B, H, W, L, d]
        ql, kl, vl = lead.view(3, -1, width, dim).unbind(0)
        qc, kc, vc = column.view(3, -1, leads, dim).unbind(0)
        lead_scores = _scaled_bmm(ql, kl.transpose(1, 2), scale)
        column_scores = _scaled_bmm(qc, kc.transpose(1, 2), scale)
        column_scores.diagonal(dim1=1, dim2=2).fill_(float("-inf"))
        if valid is not None:
            itself = torch.eye(width, dtype=torch.bool, device=qkv.device)
            key_bad = ~valid.view(batch, 1, 1, 1, width) & ~itself
            lead_scores.view(batch, heads, leads, width, width).masked_fill_(key_bad, -torch.inf)
            query_bad = ~valid.view(batch, 1, width, 1, 1)
            column_scores.view(batch, heads, width, leads, leads).masked_fill_(
                query_bad, -torch.inf
            )
        lead_max = lead_scores.amax(dim=-1).view(batch, heads, leads, width)
        column_max = column_scores.amax(dim=-1).view(batch, heads, width, leads)
        top = torch.maximum(lead_max, column_max.transpose(2, 3))  # finite: itself is a key
        lead_p = lead_scores.sub_(top.reshape(-1, width, 1)).exp_()
        column_p = column_scores.sub_(top.transpose(2, 3).reshape(-1, leads, 1)).exp_()
        total = lead_p.sum(dim=-1).view(batch, heads, leads, width)
        total = total + column_p.sum(dim=-1).view(batch, heads, width, leads).transpose(2, 3)
        lead_p.div_(total.reshape(-1, width, 1))
        column_p.div_(total.transpose(2, 3).reshape(-1, leads, 1))
        grid = (batch, heads, leads, width)
        out = qkv.new_empty(batch, leads, width, heads, dim)  # out= into a view fails to compile
        _merge(torch.bmm(lead_p, vl), torch.bmm(column_p, vc), out, grid)
        out = out.view(batch, n_tokens, heads, dim)
        ctx.save_for_backward(lead, column, lead_p, column_p, out)
        ctx.grid = (*grid, scale)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        lead, column, lead_p, column_p, out = ctx.saved_tensors
        batch, heads, leads, width, scale = ctx.grid
        grid = (batch, heads, leads, width)
        dim = lead.shape[-1]
        ql, kl, vl = lead.view(3, -1, width, dim).unbind(0)
        qc, kc, vc = column.view(3, -1, leads, dim).unbind(0)
        grad = grad.contiguous()  # an expanded gradient (e.g. of a sum) would make bmm loop
        tokens = grad.unflatten(1, (leads, width))
        gl = tokens.permute(0, 3, 1, 2, 4).reshape(-1, width, dim)  # copies: [B, H, L, W, d]
        gc = tokens.permute(0, 3, 2, 1, 4).reshape(-1, leads, dim)  # [B, H, W, L, d]
        row = (grad * out).sum(dim=-1).view(batch, leads, width, heads)  # rowsum(dO * O)
        row_l = row.permute(0, 3, 1, 2).reshape(-1, width, 1)
        row_c = row.permute(0, 3, 2, 1).reshape(-1, leads, 1)
        lead_ds = torch.bmm(gl, vl.transpose(1, 2)).sub_(row_l).mul_(lead_p)
        column_ds = torch.bmm(gc, vc.transpose(1, 2)).sub_(row_c).mul_(column_p)
        dqkv = grad.new_empty(batch, leads, width, 3, heads, dim)
        dq, dk, dv = dqkv.unbind(3)
        _merge(_scaled_bmm(lead_ds, kl, scale), _scaled_bmm(column_ds, kc, scale), dq, grid)
        _merge(
            _scaled_bmm(lead_ds.transpose(1, 2), ql, scale),
            _scaled_bmm(column_ds.transpose(1, 2), qc, scale),
            dk,
            grid,
        )
        _merge(
            torch.bmm(lead_p.transpose(1, 2), gl), torch.bmm(column_p.transpose(1, 2), gc), dv, grid
        )
        return dqkv.flatten(1, 2), None, None


def _scaled_bmm(a: Tensor, b: Tensor, scale: float) -> Tensor:
    """``scale * (a @ b)``, the scale applied inside the product (``beta=0`` ignores ``out``)."""
    out = a.new_empty(a.shape[0], a.shape[1], b.shape[2])
    return torch.baddbmm(out, a, b, beta=0, alpha=scale)


def _merge(lead: Tensor, column: Tensor, out: Tensor, grid: tuple[int, int, int, int]) -> None:
    """``out`` ``[B, L, W, H, d]`` (any strides) <- lead part ``[B * H * L, W, d]`` + column part
    ``[B * H * W, L, d]``, in one pass."""
    batch, heads, leads, width = grid
    dim = lead.shape[-1]
    lead_part = lead.view(batch, heads, leads, width, dim).permute(0, 2, 3, 1, 4)
    column_part = column.view(batch, heads, width, leads, dim).permute(0, 3, 2, 1, 4)
    torch.add(lead_part, column_part, out=out)


def cropa_grid_attention_packed(qkv: Tensor, grid: CroPAGrid) -> Tensor:
    """CroPA of packed ``qkv`` ``[B, N, 3, H, d]`` (N = L * W) on ``grid``: ``[B, N, H, d]``."""
    batch, n_tokens = qkv.shape[:2]
    if qkv.dim() != 5 or qkv.shape[2] != 3:
        raise ValueError(f"qkv must be [batch, tokens, 3, heads, dim], got {tuple(qkv.shape)}")
    if n_tokens % grid.n_leads:
        raise ValueError(f"{n_tokens} tokens do not form a grid of {grid.n_leads} leads")
    width = n_tokens // grid.n_leads
    if grid.valid is not None and grid.valid.shape != (batch, width):
        raise ValueError(
            f"valid must be [batch={batch}, columns={width}], got {tuple(grid.valid.shape)}"
        )
    dtype = qkv.dtype
    with torch.autocast(qkv.device.type, enabled=False):
        out = GridAttention.apply(qkv.float(), grid.n_leads, grid.valid)
    return out.to(dtype)


def cropa_grid_attention(q: Tensor, k: Tensor, v: Tensor, grid: CroPAGrid) -> Tensor:
    """CroPA of ``q, k, v`` ``[B, H, L * W, d]`` on ``grid``; returns ``[B, H, L * W, d]``."""
    qkv = torch.stack((q, k, v), dim=1).permute(0, 3, 1, 2, 4)  # [B, N, 3, H, d], strided
    return cropa_grid_attention_packed(qkv, grid).transpose(1, 2)
