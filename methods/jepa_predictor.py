"""ECG-JEPA's predictor: a narrow transformer run on each lead alone (no cross-lead attention).

For every lead the context encoder's visible tokens are projected to the predictor width and
placed at their time positions; learned mask tokens fill the hidden positions; a fixed sin-cos
code of the time position is added before every block (as the encoders do); pre-norm ViT
blocks, a final LayerNorm and a projection back to the encoder width follow. Leads are folded
into the batch, so a lead's predictions depend only on that lead's context tokens.

Position codes (``PredictorPos``): "one_lead_grid" is the reference code's, the 2-D code of a
grid of one lead (time code with ``dim / 4`` frequencies in the first half of the channels,
the lead-0 code, ``dim / 4`` zeros then ``dim / 4`` ones, in the second), in float64;
"time_1d" is a full-width 1-D time code (``dim / 2`` frequencies, float32).
"""

from __future__ import annotations

from functools import partial
from typing import Literal

import torch
from timm.layers import trunc_normal_
from timm.models.vision_transformer import Block, init_weights_vit_timm
from torch import Tensor, nn

from bench.encoders.patch_transformer import scale_residual_outputs
from bench.encoders.pos_embed import sincos_1d, sincos_2d
from methods.jepa_masking import TimeMask

PredictorPos = Literal["one_lead_grid", "time_1d"]
PREDICTOR_POS: tuple[str, ...] = ("one_lead_grid", "time_1d")


def predictor_positions(
    n_patches: int, dim: int, kind: PredictorPos, device: torch.device
) -> Tensor:
    """Float32 ``[n_patches, dim]`` codes of the time positions ``0 .. n_patches - 1``."""
    time = torch.arange(n_patches, device=device)
    if kind == "time_1d":
        return sincos_1d(time, dim)
    return sincos_2d(torch.zeros_like(time), time, dim, layout="time_lead")


class LeadwisePredictor(nn.Module):
    """Predicts encoder features at every time position of each lead from its context tokens.

    ``norm_eps`` is the eps of every LayerNorm; ``depth_scaled_init`` rescales each block's
    output projections as ``bench.encoders.patch_transformer.scale_residual_outputs`` does.
    ``mask_token_decay``: the mask token gets AdamW's weight decay (named in
    ``decayed_parameters``, see ``bench.training.optim.parameter_groups``), as in the reference
    code, whose token has shape [1, 1, dim] and so is not exempt as a 1-D parameter.
    """

    def __init__(
        self,
        encoder_dim: int,
        dim: int,
        depth: int,
        heads: int,
        mlp_ratio: float = 4.0,
        drop_path: float = 0.0,
        positions: PredictorPos = "one_lead_grid",
        norm_eps: float = 1e-5,
        depth_scaled_init: bool = True,
        mask_token_decay: bool = True,
    ):
        super().__init__()
        self.dim = dim
        self.positions = positions
        self.embed = nn.Linear(encoder_dim, dim)
        self.mask_token = nn.Parameter(torch.zeros(dim))
        self.decayed_parameters: tuple[str, ...] = ("mask_token",) if mask_token_decay else ()
        steps = max(depth - 1, 1)
        norm = partial(nn.LayerNorm, eps=norm_eps)
        self.blocks = nn.ModuleList(
            Block(
                dim,
                heads,
                mlp_ratio=mlp_ratio,
                qkv_bias=False,
                drop_path=drop_path * i / steps,
                norm_layer=norm,
            )
            for i in range(depth)
        )
        for block in self.blocks:
            block.attn.fused_attn = True
        self.norm = norm(dim)
        self.project = nn.Linear(dim, encoder_dim)
        self.apply(init_weights_vit_timm)
        if depth_scaled_init:
            scale_residual_outputs(self.blocks)
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
        pos = predictor_positions(n_patches, self.dim, self.positions, context.device)
        pos = pos.to(h.dtype)
        for block in self.blocks:
            h = block(h + pos)
        out = self.project(self.norm(h))
        return out.reshape(batch, leads, n_patches, -1)
