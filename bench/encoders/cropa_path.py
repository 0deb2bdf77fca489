"""Which CroPA implementation runs: the attention layer that switches, and the ``auto`` rule.

Both paths compute the same attention (the sparse one is exact, see
``bench.encoders.cropa_sparse``; equal to the dense one within 1e-5 in float32), so the path is
an execution option like the device: it is not part of any run key.

- ``dense``: the reference, a boolean CroPA mask into ``F.scaled_dot_product_attention``.
- ``sparse``: ``cropa_grid_attention_packed``, only the W + L - 1 allowed keys of each query.
- ``auto``: the fixed rule of ``AUTO_SPARSE_COLUMNS`` by device type and grid width, decided
  by measurement (README, "Speed and scale"), never by timing a run: sparse on a CPU for grids
  of at least 16 columns, dense below and on CUDA. On one CPU thread (dim 192, depth 4, 8
  leads, batch 8) the sparse attention alone took 90 ms forward + backward against dense
  192 ms at 50 columns; in the whole encoder (forward + backward, paired CPU-time medians,
  oneDNN linears) sparse / dense was 0.96 at 32 columns, 0.98 at 23, 0.97 at 16 and 1.06 at
  12 (with torch's own linears earlier: 0.88 at 50, 0.96 at 23, 1.05 at 12); a whole ECG-JEPA
  step with the context (about 23 columns) sparse instead of dense took 0.93 of the time.
  CUDA keeps the fused dense kernels until a GPU measurement says otherwise. A grid of one
  lead is plain full attention, so it always runs dense.

FlexAttention (``torch.nn.attention.flex_attention``) is not a path: in this torch it has no
backward on CPU, and CroPA's lead-major block mask is not block-sparse (every block of 128
tokens holds same-column pairs), so on CUDA it would score as many blocks as dense SDPA.
"""

from __future__ import annotations

from typing import Literal

import torch
from timm.models.vision_transformer import Attention
from torch import Tensor, nn

from bench.encoders.cropa_sparse import CroPAGrid, cropa_grid_attention_packed

AttentionPath = Literal["auto", "dense", "sparse"]
ATTENTION_PATHS: tuple[str, ...] = ("auto", "dense", "sparse")
AUTO_SPARSE_COLUMNS: dict[str, int] = {"cpu": 16}
"""``auto`` runs sparse on these device types from this many grid columns on (else dense)."""


def resolve_attention_path(
    path: AttentionPath, device: torch.device, grid: CroPAGrid, n_tokens: int
) -> str:
    """``dense`` or ``sparse`` for ``path`` on ``device``, ``n_tokens`` tokens on ``grid``."""
    if path not in ATTENTION_PATHS:
        raise ValueError(f"attention path {path!r} is not one of {', '.join(ATTENTION_PATHS)}")
    if path != "auto":
        return path
    columns = AUTO_SPARSE_COLUMNS.get(device.type)
    wide = columns is not None and n_tokens >= columns * grid.n_leads
    return "sparse" if wide and grid.n_leads > 1 else "dense"


class CroPAAttention(Attention):
    """timm's attention layer (same weights) that also takes a ``CroPAGrid`` as its mask.

    With a Tensor mask (or None) it is timm's layer unchanged; with a grid it runs the sparse
    path (no attention dropout, no gate: the encoder's blocks have neither).
    """

    def forward(
        self, x: Tensor, attn_mask: Tensor | CroPAGrid | None = None, is_causal: bool = False
    ) -> Tensor:
        if not isinstance(attn_mask, CroPAGrid):
            return super().forward(x, attn_mask=attn_mask, is_causal=is_causal)
        if self.gate is not None or (self.training and self.attn_drop.p > 0):
            raise ValueError("sparse CroPA supports neither attention gates nor dropout")
        batch, n_tokens, _ = x.shape
        qkv = self.qkv(x).reshape(batch, n_tokens, 3, self.num_heads, self.head_dim)
        if not (isinstance(self.q_norm, nn.Identity) and isinstance(self.k_norm, nn.Identity)):
            q, k, v = qkv.unbind(2)
            qkv = torch.stack((self.q_norm(q), self.k_norm(k), v), dim=2)
        out = cropa_grid_attention_packed(qkv, attn_mask).reshape(batch, n_tokens, self.attn_dim)
        return self.proj_drop(self.proj(self.norm(out)))
