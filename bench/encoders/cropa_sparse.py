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


def _to_columns(x: Tensor, batch: int, heads: int, leads: int, width: int) -> Tensor:
    """``[B, H, L * W, d]`` (any strides) -> column-major ``[B * H * W, L, d]`` (a copy)."""
    dim = x.shape[-1]
    return x.reshape(batch, heads, leads, width, dim).transpose(2, 3).reshape(-1, leads, dim)


def _from_columns(x: Tensor, batch: int, heads: int, leads: int, width: int) -> Tensor:
    """Column-major ``[B * H * W, L, d]`` -> a ``[B, H, L, W, d]`` view (lead-major indexing)."""
    return x.view(batch, heads, width, leads, -1).transpose(2, 3)


class GridAttention(torch.autograd.Function):
    """CroPA on a grid: forward and a hand-written backward (flash-attention style)."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, q: Tensor, k: Tensor, v: Tensor, n_leads: int, valid: Tensor | None
    ) -> Tensor:
        batch, heads, n_tokens, dim = q.shape
        leads, width = n_leads, n_tokens // n_leads
        scale = dim**-0.5
        shape = (batch * heads * leads, width, dim)
        ql, kl, vl = q.reshape(shape), k.reshape(shape), v.reshape(shape)
        qc, kc, vc = (_to_columns(t, batch, heads, leads, width) for t in (q, k, v))
        lead_scores = torch.bmm(ql, kl.transpose(1, 2)).mul_(scale)
        column_scores = torch.bmm(qc, kc.transpose(1, 2)).mul_(scale)
        column_scores.diagonal(dim1=1, dim2=2).fill_(float("-inf"))
        if valid is not None:
            itself = torch.eye(width, dtype=torch.bool, device=q.device)
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
        out = torch.bmm(lead_p, vl).view(batch, heads, leads, width, dim)
        out = out + _from_columns(torch.bmm(column_p, vc), batch, heads, leads, width)
        out = out.view(batch, heads, n_tokens, dim)
        ctx.save_for_backward(ql, kl, vl, qc, kc, vc, lead_p, column_p, out)
        ctx.grid = (batch, heads, leads, width, scale)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        ql, kl, vl, qc, kc, vc, lead_p, column_p, out = ctx.saved_tensors
        batch, heads, leads, width, scale = ctx.grid
        dim = ql.shape[-1]
        grad = grad.contiguous()  # an expanded gradient (e.g. of a sum) would make bmm loop
        gl = grad.view(-1, width, dim)
        gc = _to_columns(grad, batch, heads, leads, width)
        row = (grad * out).sum(dim=-1)  # [B, H, N]: the softmax's rowsum(dO * O)
        row_l = row.view(-1, width, 1)
        row_c = row.view(batch, heads, leads, width).transpose(2, 3).reshape(-1, leads, 1)
        lead_ds = torch.bmm(gl, vl.transpose(1, 2)).sub_(row_l).mul_(lead_p)
        column_ds = torch.bmm(gc, vc.transpose(1, 2)).sub_(row_c).mul_(column_p)

        def merge(lead: Tensor, column: Tensor, factor: float = 1.0) -> Tensor:
            total = lead.view(batch, heads, leads, width, dim)
            total = total + _from_columns(column, batch, heads, leads, width)
            total = total.view(batch, heads, leads * width, dim)
            return total.mul_(factor) if factor != 1.0 else total

        dq = merge(torch.bmm(lead_ds, kl), torch.bmm(column_ds, kc), scale)
        dk = merge(
            torch.bmm(lead_ds.transpose(1, 2), ql), torch.bmm(column_ds.transpose(1, 2), qc), scale
        )
        dv = merge(torch.bmm(lead_p.transpose(1, 2), gl), torch.bmm(column_p.transpose(1, 2), gc))
        return dq, dk, dv, None, None


def cropa_grid_attention(q: Tensor, k: Tensor, v: Tensor, grid: CroPAGrid) -> Tensor:
    """CroPA of ``q, k, v`` ``[B, H, L * W, d]`` on ``grid``; returns ``[B, H, L * W, d]``."""
    batch, _, n_tokens, _ = q.shape
    if n_tokens % grid.n_leads:
        raise ValueError(f"{n_tokens} tokens do not form a grid of {grid.n_leads} leads")
    width = n_tokens // grid.n_leads
    if grid.valid is not None and grid.valid.shape != (batch, width):
        raise ValueError(
            f"valid must be [batch={batch}, columns={width}], got {tuple(grid.valid.shape)}"
        )
    dtype = q.dtype
    with torch.autocast(q.device.type, enabled=False):
        out = GridAttention.apply(q.float(), k.float(), v.float(), grid.n_leads, grid.valid)
    return out.to(dtype)
