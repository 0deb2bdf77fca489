"""ST-MEM's lead-wise decoder (Na et al., ICLR 2024; bakqui/ST-MEM ``models/st_mem.py``).

The encoder's tokens (the visible patches of every lead between the lead's two SEP tokens) are
projected to ``dim``; a learned mask token fills every hidden patch position; fixed 1-D sin-cos
time positions (zero rows at the SEP positions, frozen) are added; then every lead is decoded
on its own, as a sequence of its SEP tokens and its ``n`` patches, by the same pre-norm
transformer blocks (no lead embedding: the decoder is shared by the leads), a LayerNorm (eps
1e-6, the released configs' ``norm_layer``) and a linear head to ``patch_size`` samples. The
blocks are timm's ``Block``, which computes the official block when ``dim = heads * 64`` (the
released decoder: 256 = 4 x 64; see ``methods.checkpoints.vit1d_net``).
"""

from __future__ import annotations

import torch
from timm.models.vision_transformer import Block
from torch import Tensor, nn

from bench.encoders.pos_embed import sincos_1d

DECODER_NORM_EPS = 1e-6
MLP_RATIO = 4.0  # the official ``mlp_ratio`` (encoder and decoder alike)


def sep_framed_sincos(n_patches: int, dim: int) -> Tensor:
    """[1, n_patches + 2, dim]: zero rows for the two SEP positions around the sin-cos codes of
    time positions 0 .. n_patches - 1 (the official ``get_1d_sincos_pos_embed(sep_embed=True)``)."""
    codes = sincos_1d(torch.arange(n_patches), dim)
    zero = torch.zeros(1, dim)
    return torch.cat([zero, codes, zero]).unsqueeze(0)


class LeadwiseDecoder(nn.Module):
    """Encoder tokens of the visible patches -> every lead's ``n`` patches, lead by lead."""

    def __init__(self, in_dim: int, patch_size: int, n_max: int, dim: int, depth: int, heads: int):
        super().__init__()
        self.embed = nn.Linear(in_dim, dim)
        self.mask_token = nn.Parameter(torch.zeros(dim))
        self.register_buffer("pos", sep_framed_sincos(n_max, dim))
        self.blocks = nn.ModuleList(
            Block(dim, heads, mlp_ratio=MLP_RATIO, qkv_bias=True, norm_layer=nn.LayerNorm)
            for _ in range(depth)
        )
        self.norm = nn.LayerNorm(dim, eps=DECODER_NORM_EPS)
        self.head = nn.Linear(dim, patch_size)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The official init: xavier-uniform Linear weights, zero biases, N(0, 0.02) mask token."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
        nn.init.normal_(self.mask_token, std=0.02)

    def forward(self, tokens: Tensor, keep: Tensor, n_patches: int) -> Tensor:
        """Predicted patches [B, leads, n_patches, patch_size].

        ``tokens`` [B, leads * (K + 2), in_dim]: the encoder's output, every lead's K visible
        patches between its SEP tokens; ``keep`` long [B, leads, K]: the time index of each
        visible patch (in the order of ``tokens``).
        """
        batch, leads, visible = keep.shape
        h = self.embed(tokens).reshape(batch, leads, visible + 2, -1)
        grid = self.mask_token.to(h.dtype).expand(batch, leads, n_patches, -1)
        grid = grid.scatter(2, keep.unsqueeze(-1).expand(-1, -1, -1, h.shape[-1]), h[:, :, 1:-1])
        grid = grid + self.pos[:, 1 : n_patches + 1].unsqueeze(1).to(h.dtype)
        left = h[:, :, :1] + self.pos[:, :1].unsqueeze(1).to(h.dtype)
        right = h[:, :, -1:] + self.pos[:, -1:].unsqueeze(1).to(h.dtype)
        h = torch.cat([left, grid, right], dim=2).flatten(0, 1)  # one sequence per lead
        for block in self.blocks:
            h = block(h)
        patches = self.head(self.norm(h))[:, 1:-1]
        return patches.reshape(batch, leads, n_patches, -1)
