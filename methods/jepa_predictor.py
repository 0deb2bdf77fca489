"""ECG-JEPA's predictor: a narrow transformer run on each lead alone (no cross-lead attention).

For every lead the context encoder's visible tokens are projected to the predictor width and
placed at their time positions; learned mask tokens fill the hidden positions; a 1-D sin-cos
code of the time position is added before every block (as the encoders do); timm pre-norm
blocks, a final LayerNorm and a projection back to the encoder width follow. Leads are folded
into the batch, so a lead's predictions depend only on that lead's context tokens.
"""

from __future__ import annotations

import torch
from timm.layers import trunc_normal_
from timm.models.vision_transformer import Block, init_weights_vit_timm
from torch import Tensor, nn

from bench.encoders.pos_embed import sincos_1d
from methods.jepa_masking import TimeMask


class LeadwisePredictor(nn.Module):
    """Predicts encoder features at every time position of each lead from its context tokens."""

    def __init__(
        self,
        encoder_dim: int,
        dim: int,
        depth: int,
        heads: int,
        mlp_ratio: float = 4.0,
        drop_path: float = 0.0,
    ):
        super().__init__()
        self.dim = dim
        self.embed = nn.Linear(encoder_dim, dim)
        self.mask_token = nn.Parameter(torch.zeros(dim))
        steps = max(depth - 1, 1)
        self.blocks = nn.ModuleList(
            Block(dim, heads, mlp_ratio=mlp_ratio, qkv_bias=False, drop_path=drop_path * i / steps)
            for i in range(depth)
        )
        for block in self.blocks:
            block.attn.fused_attn = True
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.project = nn.Linear(dim, encoder_dim)
        self.apply(init_weights_vit_timm)
        trunc_normal_(self.mask_token, std=0.02)

    def forward(self, context: Tensor, mask: TimeMask) -> Tensor:
        """Context ``[B, leads, K, encoder_dim]`` -> predictions ``[B, leads, P, encoder_dim]``.

        ``context[:, c, j]`` is the token of lead ``c`` at time ``mask.visible[:, j]``; slots
        where ``mask.valid`` is False are ignored. Every time position gets an output; only
        the hidden ones (``mask.masked``) are predictions of interest.
        """
        batch, leads, width, _ = context.shape
        n_patches = mask.n_patches
        h = self.embed(context)
        # filler slots go to a spare column P that is cut off again
        slots = torch.where(mask.valid, mask.visible, n_patches)
        index = slots.view(batch, 1, width, 1).expand(batch, leads, width, self.dim)
        grid = h.new_zeros(batch, leads, n_patches + 1, self.dim).scatter(2, index, h)
        hidden = mask.masked.view(batch, 1, n_patches, 1)
        grid = torch.where(hidden, self.mask_token.to(h.dtype), grid[:, :, :n_patches])
        h = grid.reshape(batch * leads, n_patches, self.dim)
        time = torch.arange(n_patches, device=context.device)
        pos = sincos_1d(time, self.dim).to(h.dtype)
        for block in self.blocks:
            h = block(h + pos)
        out = self.project(self.norm(h))
        return out.reshape(batch, leads, n_patches, -1)
