"""``hybrid``: contrastive-regularised masked autoencoder (CREMA, Song et al., arXiv 2407.07110).

One loss ``L = L_MAE + lambda * L_contrastive``. Every crop gives two views (light amplitude,
baseline and noise augmentations) with independent random masks (``mask_type``: single
lead x time tokens, default, or whole time columns shared by every lead). The shared patch
transformer (full attention, CREMA's "Signal Transformer" role) encodes only the visible
(lead x time) tokens of each view; a light transformer decoder with a learned mask token
reconstructs every patch, and the MSE is taken on masked patches only. The mean-pooled visible
tokens of each view go through a projection MLP into NT-Xent over the batch. Downstream,
``encoder.embed`` is the encoder on the full, unmasked input: the mean of all tokens after the
final LayerNorm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import torch
from torch import Tensor, nn

from bench.config import check_range
from bench.encoders.base import InputSpec
from bench.errors import ConfigError
from bench.method import METHODS, Method
from bench.training.distributed import gather_with_grad
from methods._masked_decoding import (
    PatchDecoder,
    build_patch_encoder,
    check_decoder,
    check_encoder_fields,
    masked_mse,
    normalize_patches,
)
from methods.contrastive import nt_xent

MaskType = Literal["column", "token"]


@dataclass(frozen=True)
class HybridConfig:
    """Fields of ``hybrid``; CREMA publishes none of them, so every default is (unverified).

    - ``size`` / ``patch_size``: the patch transformer size (tiny | small | base) and an
      optional patch-length override (samples).
    - ``mask_ratio``: share masked per view, 0.75 (MAE's value; unverified).
    - ``mask_type``: "token" (default, MAE's random patches) masks ``round(mask_ratio *
      tokens)`` single (lead, time) tokens; "column" masks ``round(mask_ratio * patches)``
      whole time columns, the same in every lead. Token masking lets a masked patch be read
      off the same time step of other leads (III, aVR, aVL and aVF are linear combinations of
      I and II), column masking does not; measured on the PTB-XL subset (superdiagnostic
      linear probe, seed 0) token masking probes higher after 5 and after 20 epochs
      (100 % labels: 0.762 vs 0.700 and 0.735 vs 0.718; README, "Method defaults and
      matched baselines"), so it stays the default.
    - ``decoder_dim`` / ``decoder_depth`` / ``decoder_heads``: the light decoder, 64 / 1 / 4
      (unverified; CPU-sized, see the paper profile for larger).
    - ``norm_targets``: reconstruct per-patch normalised patches (MAE's norm_pix_loss), True.
      The target is the view without its Gaussian noise (scaled and shifted like the view).
    - ``norm_eps``: the eps of that normalisation relative to the crop's variance, 1e-2
      (unverified): a flat patch gets a near-0 target instead of its noise blown up to unit
      variance (``methods._masked_decoding.normalize_patches``).
    - ``contrastive_weight``: lambda, 0.1 (unverified); 0 gives plain MAE.
    - ``temperature``: NT-Xent temperature in (0, 1], 0.2 (unverified).
    - ``projection_hidden`` / ``projection_dim``: the projection MLP
      (Linear-GELU-Linear), 256 / 128 (unverified).
    - ``aug_scale``: per-lead amplitude factor drawn from [1 - s, 1 + s], 0.2 (unverified).
    - ``aug_shift``: per-lead baseline offset drawn from [-b, b] in signal units, 0.1
      (unverified).
    - ``aug_noise_std``: Gaussian noise std in signal units, 0.05 (unverified).
    """

    size: str = "tiny"
    patch_size: int | None = None
    mask_ratio: float = 0.75
    mask_type: MaskType = "token"
    decoder_dim: int = 64
    decoder_depth: int = 1
    decoder_heads: int = 4
    norm_targets: bool = True
    norm_eps: float = 1e-2
    contrastive_weight: float = 0.1
    temperature: float = 0.2
    projection_hidden: int = 256
    projection_dim: int = 128
    aug_scale: float = 0.2
    aug_shift: float = 0.1
    aug_noise_std: float = 0.05

    def __post_init__(self) -> None:
        where = "hybrid"
        check_encoder_fields(where, self.size, self.patch_size)
        if not 0.0 < self.mask_ratio < 1.0:
            raise ConfigError(f"{where}.mask_ratio = {self.mask_ratio!r} must lie in (0, 1)")
        if self.mask_type not in ("column", "token"):
            raise ConfigError(f"{where}.mask_type = {self.mask_type!r} is not column or token")
        check_decoder(where, self.decoder_dim, self.decoder_depth, self.decoder_heads, 1)
        check_range(f"{where}.norm_eps", self.norm_eps, 1e-12)
        check_range(f"{where}.contrastive_weight", self.contrastive_weight, 0.0)
        if not 0.0 < self.temperature <= 1.0:
            raise ConfigError(f"{where}.temperature = {self.temperature!r} must lie in (0, 1]")
        check_range(f"{where}.projection_hidden", self.projection_hidden, 1)
        check_range(f"{where}.projection_dim", self.projection_dim, 1)
        check_range(f"{where}.aug_scale", self.aug_scale, 0.0, 0.99)
        check_range(f"{where}.aug_shift", self.aug_shift, 0.0)
        check_range(f"{where}.aug_noise_std", self.aug_noise_std, 0.0)


def random_token_mask(
    batch: int, n_tokens: int, n_masked: int, device: torch.device | str | None = None
) -> tuple[Tensor, Tensor]:
    """Independent random masks: (keep long [B, n_tokens - n_masked] sorted, masked bool [B, N]).

    Every sample masks exactly ``n_masked`` tokens, drawn from torch's global RNG.
    """
    order = torch.rand(batch, n_tokens, device=device).argsort(dim=1)
    keep = order[:, n_masked:].sort(dim=1).values
    masked = torch.ones(batch, n_tokens, dtype=torch.bool, device=device)
    return keep, masked.scatter(1, keep, False)


def random_column_mask(
    batch: int,
    n_leads: int,
    n_patches: int,
    n_masked: int,
    device: torch.device | str | None = None,
) -> tuple[Tensor, Tensor]:
    """Masks of whole time columns, the same in every lead, as lead-major token indices.

    Returns (keep long [B, n_leads * (n_patches - n_masked)] sorted, masked bool
    [B, n_leads * n_patches]); every sample masks exactly ``n_masked`` columns (global RNG).
    """
    _, columns = random_token_mask(batch, n_patches, n_masked, device)
    masked = columns.unsqueeze(1).expand(batch, n_leads, n_patches).reshape(batch, -1)
    keep = (~masked).nonzero()[:, 1].reshape(batch, -1)
    return keep, masked


@METHODS.register("hybrid")
class HybridMAEContrastive(Method):
    """Masked autoencoder with an NT-Xent regulariser between two masked, augmented views."""

    name: ClassVar[str] = "hybrid"
    config_class: ClassVar[type[HybridConfig]] = HybridConfig
    config: HybridConfig

    def __init__(self, config: HybridConfig, input_spec: InputSpec):
        super().__init__(config, input_spec)
        self.encoder = build_patch_encoder(config.size, config.patch_size, input_spec)
        self.n_patches = self.encoder.n_patches(input_spec.n_samples)
        self.n_tokens = input_spec.n_leads * self.n_patches
        units = self.n_patches if config.mask_type == "column" else self.n_tokens
        self.n_masked = round(config.mask_ratio * units)
        if not 1 <= self.n_masked < units:
            raise ConfigError(
                f"hybrid.mask_ratio = {config.mask_ratio} masks {self.n_masked} of {units} "
                f"{config.mask_type}s; at least one must be masked and one visible"
            )
        self.decoder = PatchDecoder(
            self.encoder.embed_dim,
            self.encoder.patch_size,
            config.decoder_dim,
            config.decoder_depth,
            config.decoder_heads,
            mask_token=True,
        )
        self.projector = nn.Sequential(
            nn.Linear(self.encoder.embed_dim, config.projection_hidden),
            nn.GELU(),
            nn.Linear(config.projection_hidden, config.projection_dim),
        )

    def augment(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(view, target signal): per-lead scaling and baseline shift, then Gaussian noise.

        The target signal is the view before the noise is added.
        """
        c = self.config
        batch, leads, _ = x.shape
        scale = 1.0 + c.aug_scale * (2.0 * torch.rand(batch, leads, 1, device=x.device) - 1.0)
        shift = c.aug_shift * (2.0 * torch.rand(batch, leads, 1, device=x.device) - 1.0)
        clean = x * scale + shift
        return clean + c.aug_noise_std * torch.randn_like(x), clean

    def reconstruction_targets(self, signal: Tensor) -> Tensor:
        """Patches [B, tokens, patch_size] of ``signal``, per-patch normalised if configured
        (eps relative to each crop's variance over all its leads and samples)."""
        patches = self.encoder.patchify(signal).reshape(signal.shape[0], self.n_tokens, -1)
        if not self.config.norm_targets:
            return patches.float()
        scale = signal.float().flatten(1).std(dim=1, unbiased=False)[:, None, None]
        return normalize_patches(patches, self.config.norm_eps, scale)

    def draw_masks(self, batch: int, device: torch.device) -> tuple[Tensor, Tensor]:
        """(keep long [B, K] lead-major, masked bool [B, tokens]) of ``mask_type``."""
        if self.config.mask_type == "token":
            return random_token_mask(batch, self.n_tokens, self.n_masked, device)
        n_leads = self.n_tokens // self.n_patches
        return random_column_mask(batch, n_leads, self.n_patches, self.n_masked, device)

    def loss(self, batch: Tensor) -> dict[str, Tensor]:
        """L_MAE (both views) + lambda * NT-Xent between the views' projected pooled tokens."""
        view_a, clean_a = self.augment(batch)
        view_b, clean_b = self.augment(batch)
        views = torch.cat([view_a, view_b])
        keep, masked = self.draw_masks(views.shape[0], batch.device)
        tokens = self.encoder.tokens(views, keep)
        prediction = self.decoder(tokens, batch.shape[1], self.n_patches, keep)
        targets = self.reconstruction_targets(torch.cat([clean_a, clean_b]))
        mae = masked_mse(prediction, targets, masked.unsqueeze(-1))
        projected = self.projector(tokens.mean(dim=1)).float()
        pooled_a, pooled_b = (gather_with_grad(half) for half in projected.chunk(2))
        contrastive = nt_xent(pooled_a, pooled_b, self.config.temperature)  # global batch (DDP)
        loss = mae + self.config.contrastive_weight * contrastive
        return {"loss": loss, "mae": mae.detach(), "contrastive": contrastive.detach()}
