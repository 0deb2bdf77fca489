"""Patch transformer over (lead x time) tokens, built from timm's pre-norm ViT blocks.

Each lead is cut into non-overlapping patches of ``patch_size`` samples; one shared
``Linear(patch_size -> dim)`` embeds every patch; fixed 2-D sin-cos codes of (lead, time) are
added once before the first block, or before every block (``pos_every_block``, as ECG-JEPA does),
in either channel layout of ``bench.encoders.pos_embed``.
Tokens are ordered lead-major: ``index = lead * n_patches + time``. Attention is full or
Cross-Pattern (``attention="cropa"``, see ``bench.encoders.cropa``): dense, through
``F.scaled_dot_product_attention`` with a boolean mask, or sparse on a (lead x column) grid
(``bench.encoders.cropa_sparse``), as ``attention_path`` says (``bench.encoders.cropa_path``;
an exact execution choice, not part of the config). A final LayerNorm closes the stack, and
``embed`` is the mean of all tokens after it (ECG-JEPA's representation). ``features`` is one
step per patch column (stride ``patch_size``): the mean over leads of that column's tokens, so
``embed`` is the time mean of ``features``. ``token_grid`` keeps every (lead, patch) token.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import ClassVar, Literal

import torch
from timm.models.vision_transformer import Block, init_weights_vit_timm
from torch import Tensor, nn

from bench.config import check_range
from bench.encoders.base import ENCODERS, Encoder, InputSpec
from bench.encoders.cropa import cropa_mask
from bench.encoders.cropa_path import (
    ATTENTION_PATHS,
    AttentionPath,
    CroPAAttention,
    resolve_attention_path,
)
from bench.encoders.cropa_sparse import CroPAGrid
from bench.encoders.pos_embed import POS_LAYOUTS, PosLayout, grid_ids, sincos_2d
from bench.errors import ConfigError

Attention = Literal["full", "cropa"]


@dataclass(frozen=True)
class PatchTransformerConfig:
    """Size and wiring of a patch transformer (defaults = the ``tiny`` size).

    ``drop_path`` is the stochastic-depth rate of the last block; it rises linearly from 0 over
    the blocks. ``dim`` must be divisible by ``heads`` and by 4 (2-D sin-cos positions).
    ``pos_layout``: channel layout of the 2-D code (``bench.encoders.pos_embed``; default
    "lead_time", ECG-JEPA's is "time_lead"). ``norm_eps``: eps of every LayerNorm (default
    1e-6, timm's ViT; ECG-JEPA's is torch's 1e-5). ``depth_scaled_init``: after the standard
    ViT init, divide the attention-output and MLP-output weights of block ``l`` (from 1) by
    ``sqrt(2 l)``, as ECG-JEPA's reference code does (default False: timm's plain init).
    """

    dim: int = 64
    depth: int = 2
    heads: int = 4
    mlp_ratio: float = 4.0
    patch_size: int = 25
    qkv_bias: bool = False
    drop_path: float = 0.0
    attention: Attention = "full"
    pos_every_block: bool = False
    pos_layout: PosLayout = "lead_time"
    norm_eps: float = 1e-6
    depth_scaled_init: bool = False

    def __post_init__(self) -> None:
        where = "PatchTransformerConfig"
        check_range(f"{where}.dim", self.dim, 4)
        check_range(f"{where}.depth", self.depth, 1)
        check_range(f"{where}.heads", self.heads, 1)
        check_range(f"{where}.mlp_ratio", self.mlp_ratio, 1e-6)
        check_range(f"{where}.patch_size", self.patch_size, 1)
        check_range(f"{where}.drop_path", self.drop_path, 0.0)
        if self.drop_path >= 1.0:
            raise ConfigError(f"{where}.drop_path = {self.drop_path!r} must be below 1")
        if self.dim % self.heads:
            raise ConfigError(f"{where}.dim = {self.dim} is not divisible by heads = {self.heads}")
        if self.dim % 4:
            raise ConfigError(f"{where}.dim = {self.dim} must be divisible by 4 (2-D positions)")
        if self.attention not in ("full", "cropa"):
            raise ConfigError(f"{where}.attention = {self.attention!r} is not 'full' or 'cropa'")
        if self.pos_layout not in POS_LAYOUTS:
            raise ConfigError(
                f"{where}.pos_layout = {self.pos_layout!r} is not one of {', '.join(POS_LAYOUTS)}"
            )
        check_range(f"{where}.norm_eps", self.norm_eps, 1e-12)


PATCH_TRANSFORMER_SIZES: dict[str, PatchTransformerConfig] = {
    "tiny": PatchTransformerConfig(),
    "small": PatchTransformerConfig(dim=384, depth=12, heads=6, patch_size=25),
    "base": PatchTransformerConfig(dim=768, depth=12, heads=16, patch_size=50, drop_path=0.1),
}
"""Named sizes: ``tiny`` for CPU tests, ``small`` (ViT-S), ``base`` (ViT-B, the ECG-JEPA size).

Only the network's size lives here; ECG-JEPA's wiring is ``attention="cropa"`` and
``pos_every_block=True``, given as overrides by the method that wants it.
"""


@torch.no_grad()
def scale_residual_outputs(blocks: Iterable[nn.Module]) -> None:
    """Divide each timm block's ``attn.proj`` and ``mlp.fc2`` weights by ``sqrt(2 * layer)``.

    ``layer`` counts the blocks from 1: ECG-JEPA's (and I-JEPA's) ``fix_init_weight``, which
    keeps the residual stream's growth with depth in check at initialisation.
    """
    for layer, block in enumerate(blocks, start=1):
        block.attn.proj.weight.div_(math.sqrt(2.0 * layer))
        block.mlp.fc2.weight.div_(math.sqrt(2.0 * layer))


@ENCODERS.register("patch_transformer")
class PatchTransformer(Encoder):
    """ViT over (lead x time) patch tokens, 2-D sin-cos positions, full or CroPA attention."""

    config_class: ClassVar[type[PatchTransformerConfig]] = PatchTransformerConfig
    sizes: ClassVar[dict[str, PatchTransformerConfig]] = PATCH_TRANSFORMER_SIZES
    config: PatchTransformerConfig

    def __init__(self, config: PatchTransformerConfig, input_spec: InputSpec):
        super().__init__(config, input_spec)
        self.embed_dim = config.dim
        self.feature_dim = config.dim
        self.patch_size = config.patch_size
        self.n_patches(input_spec.n_samples)
        self.patch_embed = nn.Linear(config.patch_size, config.dim)
        steps = max(config.depth - 1, 1)
        rates = [config.drop_path * i / steps for i in range(config.depth)]
        self.blocks = nn.ModuleList(
            Block(
                config.dim,
                config.heads,
                mlp_ratio=config.mlp_ratio,
                qkv_bias=config.qkv_bias,
                drop_path=rate,
                norm_layer=partial(nn.LayerNorm, eps=config.norm_eps),
                attn_layer=CroPAAttention,
            )
            for rate in rates
        )
        self.attention_path: AttentionPath = "auto"  # see set_attention_path
        for block in self.blocks:
            block.attn.fused_attn = True  # always F.scaled_dot_product_attention, never a softmax
        self.norm = nn.LayerNorm(config.dim, eps=config.norm_eps)
        self.apply(init_weights_vit_timm)
        if config.depth_scaled_init:
            scale_residual_outputs(self.blocks)

    def n_patches(self, n_samples: int) -> int:
        """Patches per lead for ``n_samples``; ConfigError unless a multiple of ``patch_size``."""
        if n_samples < self.patch_size or n_samples % self.patch_size:
            raise ConfigError(
                f"patch_transformer: input length {n_samples} samples is not a positive multiple "
                f"of patch_size = {self.patch_size}; crop or window the signal to a multiple of "
                "the patch size, or change patch_size"
            )
        return n_samples // self.patch_size

    def patchify(self, x: Tensor) -> Tensor:
        """[B, leads, samples] -> [B, leads, n_patches, patch_size] (a view of contiguous x)."""
        if x.dim() != 3:
            raise ConfigError(
                f"patch_transformer: expected input [batch, leads, samples], got {tuple(x.shape)}"
            )
        batch, leads, samples = x.shape
        return x.reshape(batch, leads, self.n_patches(samples), self.patch_size)

    @staticmethod
    def token_ids(
        n_leads: int, n_patches: int, device: torch.device | str | None = None
    ) -> tuple[Tensor, Tensor]:
        """(lead_ids, time_ids) of all tokens, long [n_leads * n_patches], lead-major order."""
        return grid_ids(n_leads, n_patches, device)

    def tokens(self, x: Tensor, keep: Tensor | None = None) -> Tensor:
        """Token features after the final LayerNorm: [B, K, dim].

        ``keep`` (long [B, K], the same K for every sample) lists the lead-major token indices
        each sample keeps, in the order returned; dropped tokens are never embedded or attended
        to. ``None`` keeps all ``leads * n_patches`` tokens in lead-major order.
        """
        patches = self.patchify(x)
        batch, leads, n_patches, _ = patches.shape
        flat = patches.reshape(batch, leads * n_patches, self.patch_size)
        lead_ids, time_ids = self.token_ids(leads, n_patches, x.device)
        if keep is not None:
            if keep.dim() != 2 or keep.shape[0] != batch or keep.dtype != torch.long:
                raise ValueError(
                    f"keep must be a long tensor [batch={batch}, K], got {keep.dtype} "
                    f"{tuple(keep.shape)}"
                )
            flat = flat.gather(1, keep.unsqueeze(-1).expand(-1, -1, self.patch_size))
            lead_ids, time_ids = lead_ids[keep], time_ids[keep]
        grid = CroPAGrid(leads) if keep is None else None
        return self.encode_embedded(self.patch_embed(flat), lead_ids, time_ids, grid)

    def encode_embedded(
        self, h: Tensor, lead_ids: Tensor, time_ids: Tensor, grid: CroPAGrid | None = None
    ) -> Tensor:
        """Run positions, blocks and final norm on already-embedded tokens ``h`` [B, K, dim].

        ``lead_ids``/``time_ids`` ([K] shared, or [B, K]) place each token on the grid; they
        set both its position code and, with CroPA, whom it may attend to. Methods use this to
        insert their own tokens (e.g. a learned mask token) in place of patch embeddings.
        ``grid`` says that the tokens are lead-major on a (lead x column) grid whose columns
        are the same time in every lead (filler columns marked in ``grid.valid``, with ids
        that match no real token): it lets CroPA run sparse; None = dense.
        """
        pos = sincos_2d(lead_ids, time_ids, self.embed_dim, layout=self.config.pos_layout)
        pos = pos.to(h.dtype)
        mask = self._attention_mask(lead_ids, time_ids, grid, h.device)
        if not self.config.pos_every_block:
            h = h + pos
        for block in self.blocks:
            if self.config.pos_every_block:
                h = h + pos
            h = block(h, attn_mask=mask)
        return self.norm(h)

    def _attention_mask(
        self, lead_ids: Tensor, time_ids: Tensor, grid: CroPAGrid | None, device: torch.device
    ) -> Tensor | CroPAGrid | None:
        """What the blocks take as ``attn_mask``: None (full), the dense CroPA mask or the grid."""
        if self.config.attention != "cropa":
            return None
        n_tokens = lead_ids.shape[-1]
        path = self.attention_path
        if grid is not None and resolve_attention_path(path, device, grid, n_tokens) == "sparse":
            return grid
        return cropa_mask(lead_ids, time_ids)

    def embed(self, x: Tensor) -> Tensor:
        """Mean of all tokens after the final LayerNorm: [B, leads, samples] -> [B, dim]."""
        return self.tokens(x).mean(dim=1)

    def features(self, x: Tensor) -> Tensor:
        """Per patch column, the mean over leads of its tokens: [B, n_patches, dim]."""
        tokens = self.tokens(x)
        return tokens.reshape(x.shape[0], x.shape[1], -1, self.embed_dim).mean(dim=1)

    def token_grid(self, x: Tensor) -> Tensor:
        """Every (lead, patch) token after the final LayerNorm: [B, leads, n_patches, dim]."""
        return self.tokens(x).reshape(x.shape[0], x.shape[1], -1, self.embed_dim)

    @property
    def feature_stride(self) -> int:
        """One feature step per patch: ``patch_size`` samples."""
        return self.patch_size

    def forward(self, x: Tensor) -> Tensor:
        """Same as ``embed``."""
        return self.embed(x)


def set_attention_path(module: nn.Module, path: AttentionPath) -> None:
    """Run CroPA through ``path`` in every ``PatchTransformer`` inside ``module``."""
    if path not in ATTENTION_PATHS:
        raise ConfigError(f"attention path {path!r} is not one of {', '.join(ATTENTION_PATHS)}")
    for part in module.modules():
        if isinstance(part, PatchTransformer):
            part.attention_path = path
