"""``st_mem_ssl``: ST-MEM pretraining (Na et al., ICLR 2024) of ST-MEM's own ViT.

Facts from the official code (bakqui/ST-MEM, commit 69ec702: ``models/st_mem.py``,
``models/encoder/st_mem_vit.py``, ``configs/pretrain/st_mem.yaml``):

- Encoder: the 1-D ViT with per-lead patches, SEP tokens and lead embeddings of
  ``methods.checkpoints.vit1d_net`` (``tokens="lead"``), the network of the published
  checkpoint ``st-mem``: one encoder, two uses.
- Masking: every lead of every record hides its own random ``mask_ratio`` share of its time
  patches (0.75; ``int(n * (1 - mask_ratio))`` kept, the lowest of uniform noise per lead, so
  the leads are masked independently of each other). The time positions are added to the patch
  embeddings before the masking, the SEP tokens and lead embeddings after it; the encoder runs
  on the visible patches of all leads with their SEP tokens, then its final LayerNorm.
- Decoder: ``methods.st_mem_decoder.LeadwiseDecoder`` (256 wide, 4 blocks of 4 heads in the
  released ViT-B/75 model), shared by the leads.
- Loss: the mean squared error on the hidden patches of the patch-normalised signal
  (``norm_pix_loss: true``): each patch minus its mean, over ``sqrt(unbiased var + 1e-6)``;
  averaged over a patch's samples, then over the hidden patches.
- Init: xavier-uniform Linear weights, zero biases, N(0, 0.02) SEP, lead and mask embeddings,
  1-D sin-cos time positions with zero SEP rows, frozen in the encoder and the decoder.

Downstream, ``encoder.embed`` is the official ``forward_encoding`` on the unmasked input: the
final LayerNorm of the mean patch token. The time positions, frozen while pretraining, train
when the encoder is fine-tuned (as the official fine-tuning, which loads them as parameters).
Equal to the official code given the same weights and masking noise:
``tests/methods/test_st_mem_ssl_reference.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import torch
from torch import Tensor

from bench.config import check_range
from bench.encoders.base import InputSpec
from bench.errors import ConfigError
from bench.method import METHODS, InputRegime, Method
from methods.checkpoints.st_mem import ST_MEM_SIZES
from methods.checkpoints.vit1d_net import ViT1d, ViT1dConfig
from methods.st_mem_decoder import LeadwiseDecoder

ENCODER_SIZES: dict[str, ViT1dConfig] = {
    "tiny": ViT1dConfig("lead", width=64, depth=2, heads=4, mlp_dim=256, patch_size=25,
                        seq_len=250),
    "small": ViT1dConfig("lead", width=384, depth=12, heads=6, mlp_dim=1536, patch_size=75,
                         seq_len=2250),
    "base": ST_MEM_SIZES["base"],
}  # fmt: skip
"""``tiny``: CPU runs (25-sample patches, 0.25 s at 100 Hz); ``small`` and ``base``: the
official ``st_mem_vit_small`` and ``st_mem_vit_base`` (ViT-B/75, the released model). The
window (``seq_len``) is always the method's input crop."""


@dataclass(frozen=True)
class STMemSSLConfig:
    """Fields of ``st_mem_ssl``; defaults are CPU-sized, the paper's values are noted.

    - ``size``: encoder size (``ENCODER_SIZES``: tiny | small | base; paper: base, ViT-B/75).
      ``patch_size``: samples per patch (None: the size's, 25 tiny, 75 small/base; the crop
      must be a whole number of patches).
    - ``mask_ratio``: share of every lead's patches hidden from the encoder (paper: 0.75).
    - ``decoder_dim`` / ``decoder_depth`` / ``decoder_heads``: the lead-wise decoder (paper:
      256, 4, 4; it equals the official block when ``decoder_dim = 64 * decoder_heads``).
    - ``norm_targets``: reconstruct each patch normalised by its own mean and std (True, the
      official ``norm_pix_loss``) or the raw samples; ``target_eps``: the variance floor of
      that normalisation (1e-6, official).
    """

    size: str = "tiny"
    patch_size: int | None = None
    mask_ratio: float = 0.75
    decoder_dim: int = 64
    decoder_depth: int = 1
    decoder_heads: int = 4
    norm_targets: bool = True
    target_eps: float = 1e-6

    def __post_init__(self) -> None:
        where = "st_mem_ssl"
        if self.size not in ENCODER_SIZES:
            known = ", ".join(ENCODER_SIZES)
            raise ConfigError(f"{where}.size = {self.size!r} is not one of {known}")
        if self.patch_size is not None:
            check_range(f"{where}.patch_size", self.patch_size, 1)
        check_range(f"{where}.mask_ratio", self.mask_ratio, 0.01, 0.99)
        check_range(f"{where}.decoder_depth", self.decoder_depth, 1)
        check_range(f"{where}.decoder_heads", self.decoder_heads, 1)
        check_range(f"{where}.decoder_dim", self.decoder_dim, 2)
        if self.decoder_dim % self.decoder_heads or self.decoder_dim % 2:
            raise ConfigError(
                f"{where}.decoder_dim = {self.decoder_dim} must be even (sin-cos positions) "
                f"and divisible by decoder_heads = {self.decoder_heads}"
            )
        check_range(f"{where}.target_eps", self.target_eps, 0.0)

    def encoder_config(self, samples: int) -> ViT1dConfig:
        """The encoder of ``size`` (``patch_size`` applied) over a window of ``samples``."""
        size = ENCODER_SIZES[self.size]
        patch = self.patch_size or size.patch_size
        if samples % patch:
            raise ConfigError(
                f"st_mem_ssl: a crop of {samples} samples is not a whole number of "
                f"{patch}-sample patches; set st_mem_ssl.patch_size to a divisor of {samples} "
                "(or change window_s)"
            )
        return replace(size, patch_size=patch, seq_len=samples)


def patch_targets(x: Tensor, patch_size: int, normalise: bool, eps: float) -> Tensor:
    """[B, leads, samples] -> float32 patches [B, leads, n, patch_size], each normalised by
    its own mean and unbiased variance (+ ``eps``) when ``normalise``."""
    batch, leads, samples = x.shape
    patches = x.float().reshape(batch, leads, samples // patch_size, patch_size)
    if not normalise:
        return patches
    mean = patches.mean(dim=-1, keepdim=True)
    var = patches.var(dim=-1, keepdim=True)
    return (patches - mean) / (var + eps).sqrt()


def hidden_patch_loss(prediction: Tensor, target: Tensor, hidden: Tensor) -> Tensor:
    """Mean over the ``hidden`` patches (bool [B, leads, n]) of each patch's mean squared error."""
    per_patch = (prediction.float() - target).square().mean(dim=-1)
    return (per_patch * hidden).sum() / hidden.sum()


@METHODS.register("st_mem_ssl")
class STMemSSL(Method):
    """ST-MEM: reconstruct the hidden patches of every lead from the visible ones of all leads."""

    name: ClassVar[str] = "st_mem_ssl"
    config_class: ClassVar[type[STMemSSLConfig]] = STMemSSLConfig
    group: ClassVar[str] = "comparators"
    # The paper's input (``input: native``): 12 leads, FFT-resampled to 250 Hz, 9-s crops
    # (2,250 samples). Its band-pass (0.67-40 Hz) and its z-score of each crop over all leads
    # are not applied: the z-score is one affine map of the crop, which the patch LayerNorm of
    # the encoder and the patch-normalised targets undo (up to their eps).
    native_input: ClassVar[InputRegime] = InputRegime(250, "12", 9.0, "none", "fft")
    config: STMemSSLConfig

    def __init__(self, config: STMemSSLConfig, input_spec: InputSpec):
        super().__init__(config, input_spec)
        encoder_config = config.encoder_config(input_spec.n_samples)
        self.encoder = ViT1d(encoder_config, input_spec)
        self.encoder.tokens.pos.requires_grad_(False)
        self.patch_size = encoder_config.patch_size
        self.n_patches = encoder_config.n_max
        self.n_visible = int(self.n_patches * (1 - config.mask_ratio))
        if not 1 <= self.n_visible < self.n_patches:
            raise ConfigError(
                f"st_mem_ssl.mask_ratio = {config.mask_ratio} keeps {self.n_visible} of a "
                f"lead's {self.n_patches} patches; it must keep at least one and hide one"
            )
        self.decoder = LeadwiseDecoder(
            encoder_config.width,
            self.patch_size,
            self.n_patches,
            config.decoder_dim,
            config.decoder_depth,
            config.decoder_heads,
        )

    def loss(self, batch: Tensor) -> dict[str, Tensor]:
        """Reconstruction loss of the hidden patches under a fresh random mask."""
        rows, leads, _ = batch.shape
        noise = torch.rand(rows, leads, self.n_patches, device=batch.device)
        return {"loss": self.reconstruction(batch, noise)["loss"]}

    def keep_indices(self, noise: Tensor) -> Tensor:
        """Noise [B, leads, n] -> the visible patches of each lead, long [B, leads, K]: the K
        lowest noise values (the official ``random_masking``)."""
        return noise.argsort(dim=2)[:, :, : self.n_visible]

    def encode_visible(self, batch: Tensor, keep: Tensor) -> Tensor:
        """The encoder on the visible patches: final-normed tokens [B, leads * (K + 2), width]."""
        tokens = self.encoder.tokens
        patches = tokens.patch_embeddings(batch)
        index = keep.unsqueeze(-1).expand(-1, -1, -1, patches.shape[-1])
        h = tokens.frame(patches.gather(2, index))
        for block in self.encoder.blocks:
            h = block(h)
        return self.encoder.norm(h)

    def reconstruction(self, batch: Tensor, noise: Tensor) -> dict[str, Tensor]:
        """The objective under the mask that ``noise`` [B, leads, n] draws: "loss", "latent"
        (encoder tokens), "prediction" [B, leads, n, patch] and "hidden" (bool [B, leads, n])."""
        keep = self.keep_indices(noise)
        latent = self.encode_visible(batch, keep)
        prediction = self.decoder(latent, keep, self.n_patches)
        hidden = torch.ones_like(noise, dtype=torch.bool).scatter(2, keep, False)
        config = self.config
        target = patch_targets(batch, self.patch_size, config.norm_targets, config.target_eps)
        loss = hidden_patch_loss(prediction, target, hidden)
        return {"loss": loss, "latent": latent, "prediction": prediction, "hidden": hidden}
