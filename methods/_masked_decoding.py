"""Reconstruction pieces shared by the masked-signal methods (``hybrid`` and ``stmask``).

Both train the shared patch transformer (full attention) and decode its tokens back to the
samples of every patch: ``build_patch_encoder`` builds the encoder from a method's ``size`` and
``patch_size`` fields, ``check_decoder`` validates the decoder fields, ``PatchDecoder`` is the
light decoder, and ``normalize_patches`` / ``masked_mse`` form the reconstruction loss.
"""

from __future__ import annotations

import torch
from timm.models.vision_transformer import Block, init_weights_vit_timm
from torch import Tensor, nn

from bench.config import check_range
from bench.encoders.base import InputSpec
from bench.encoders.patch_transformer import PATCH_TRANSFORMER_SIZES, PatchTransformer
from bench.encoders.pos_embed import sincos_grid
from bench.errors import ConfigError


def check_encoder_fields(where: str, size: str, patch_size: int | None) -> None:
    """ConfigError unless ``size`` names a patch-transformer size and ``patch_size`` >= 1."""
    if size not in PATCH_TRANSFORMER_SIZES:
        known = ", ".join(PATCH_TRANSFORMER_SIZES)
        raise ConfigError(f"{where}.size = {size!r} is not one of {known}")
    if patch_size is not None:
        check_range(f"{where}.patch_size", patch_size, 1)


def check_decoder(where: str, dim: int, depth: int, heads: int, min_depth: int = 0) -> None:
    """ConfigError for decoder fields a ``PatchDecoder`` cannot be built from."""
    check_range(f"{where}.decoder_depth", depth, min_depth)
    check_range(f"{where}.decoder_heads", heads, 1)
    check_range(f"{where}.decoder_dim", dim, 4)
    if dim % 4 or dim % heads:
        raise ConfigError(
            f"{where}.decoder_dim = {dim} must be divisible by 4 (2-D positions) and by "
            f"decoder_heads = {heads}"
        )


def build_patch_encoder(
    size: str, patch_size: int | None, input_spec: InputSpec
) -> PatchTransformer:
    """The shared patch transformer of ``size`` with full attention (``patch_size`` overrides)."""
    overrides = {"attention": "full"} | ({} if patch_size is None else {"patch_size": patch_size})
    return PatchTransformer.from_size(size, input_spec, **overrides)


class PatchDecoder(nn.Module):
    """Light decoder from encoder tokens to the ``patch_size`` samples of every grid token.

    ``depth = 0`` is a per-token linear head (``in_dim -> patch_size``) over all tokens. With
    ``depth >= 1`` the tokens are projected to ``dim``, placed on the full (lead x time) grid
    (a learned mask token, when ``mask_token`` is set, fills the positions the encoder did not
    see), given fixed 2-D sin-cos positions, run through ``depth`` pre-norm ViT blocks with
    full attention and a LayerNorm, then projected to ``patch_size`` samples.
    """

    def __init__(
        self,
        in_dim: int,
        patch_size: int,
        dim: int,
        depth: int,
        heads: int,
        mask_token: bool = False,
    ):
        super().__init__()
        if depth == 0 and mask_token:
            raise ConfigError("a linear (depth 0) decoder cannot fill in masked tokens")
        self.dim = dim if depth else in_dim
        self.embed = nn.Linear(in_dim, dim) if depth else nn.Identity()
        self.blocks = nn.ModuleList(Block(dim, heads, qkv_bias=True) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6) if depth else nn.Identity()
        self.head = nn.Linear(self.dim, patch_size)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dim)) if mask_token else None
        self.apply(init_weights_vit_timm)
        if self.mask_token is not None:
            nn.init.normal_(self.mask_token, std=0.02)

    def forward(
        self, tokens: Tensor, n_leads: int, n_patches: int, keep: Tensor | None = None
    ) -> Tensor:
        """Predicted patches [B, n_leads * n_patches, patch_size] in lead-major order.

        ``tokens`` [B, K, in_dim] are the encoder outputs at the lead-major indices ``keep``
        (long [B, K]); ``keep=None`` means all ``n_leads * n_patches`` tokens in order.
        """
        n_tokens = n_leads * n_patches
        h = self.embed(tokens)
        if keep is not None:
            if self.mask_token is None:
                raise ValueError("this decoder has no mask token; pass every token (keep=None)")
            grid = self.mask_token.to(h.dtype).repeat(h.shape[0], n_tokens, 1)
            h = grid.scatter(1, keep.unsqueeze(-1).expand(-1, -1, self.dim), h)
        elif h.shape[1] != n_tokens:
            raise ValueError(f"expected {n_tokens} tokens, got {h.shape[1]}")
        if len(self.blocks):
            h = h + sincos_grid(n_leads, n_patches, self.dim, h.device).to(h.dtype)
            for block in self.blocks:
                h = block(h)
        return self.head(self.norm(h))


def normalize_patches(patches: Tensor, eps: float = 1e-2, scale: Tensor | None = None) -> Tensor:
    """Each patch (last dim) minus its mean, over ``sqrt(var + eps * scale**2)`` (MAE targets).

    MAE's ``norm_pix_loss`` adds an absolute eps (1e-6) to the patch variance; on ECG a flat
    patch (a lead-off stretch, a saturated lead, a rest between beats) would then turn its
    noise into a unit-variance target. Here the eps is relative to the signal scale: ``scale``
    is a std broadcast against ``patches`` [..., tokens, samples] (e.g. each crop's std over
    all its leads and samples, [B, 1, 1]); None takes each row's std over all its patches. A
    patch whose variance is small against ``eps * scale**2`` is damped towards 0, and an
    all-flat row gives 0 targets (``scale**2`` is floored at 1e-12, never dividing by 0).
    """
    patches = patches.float()
    if scale is None:
        scale = patches.flatten(-2).std(dim=-1, unbiased=False)[..., None, None]
    floor = eps * scale.float().square().clamp(min=1e-12)
    mean = patches.mean(dim=-1, keepdim=True)
    var = patches.var(dim=-1, keepdim=True, unbiased=False)
    return (patches - mean) / (var + floor).sqrt()


def masked_mse(prediction: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Float32 mean squared error over the entries where ``mask`` (bool, broadcast) is True.

    Entries outside the mask do not enter the value (nor its gradient) at all; an empty mask
    gives 0.
    """
    error = (prediction.float() - target.float()).square()
    mask = mask.expand_as(error)
    return torch.where(mask, error, 0.0).sum() / mask.sum().clamp(min=1)
