"""``stmask``: spatio-temporal masking with lead-order prediction (Ran & Liu, BME Lett. 2024).

Two pretext tasks on one encoder. Spatial: the leads of a crop are shuffled (a random
permutation per sample, applied with probability ``shuffle_prob``); the encoder's lead
positions follow the slot, so a slot's true lead must be inferred from its content. Temporal:
random time spans of the raw signal are zeroed (a new masked share per sample and step). The
shared patch transformer (full attention) encodes the masked, shuffled crop; a light decoder
reconstructs each slot's original signal, and a linear head on each slot's mean token predicts
the slot's true lead index. Loss = reconstruction MSE + ``lead_weight`` * lead cross-entropy,
the latter (and its accuracy) over the slots of shuffled samples only by default: an unshuffled
sample's slot is its lead, which the position code alone gives away.
Downstream, ``encoder.embed`` is the encoder on the unshuffled, unmasked input: the mean of all
tokens after the final LayerNorm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bench.config import check_range
from bench.encoders.base import InputSpec
from bench.errors import ConfigError
from bench.method import METHODS, Method
from methods._masked_decoding import (
    PatchDecoder,
    build_patch_encoder,
    check_decoder,
    check_encoder_fields,
    masked_mse,
)

ReconstructOn = Literal["masked", "all"]
LeadLossOn = Literal["shuffled", "all"]


@dataclass(frozen=True)
class STMaskConfig:
    """Fields of ``stmask``; the paper publishes none of these values, so all are (unverified).

    - ``size`` / ``patch_size``: the patch transformer size (tiny | small | base) and an
      optional patch-length override (samples).
    - ``mask_ratio_range``: each sample's masked share of time is drawn uniformly from this
      range at every step, (0.2, 0.5) (unverified).
    - ``span_s``: span lengths in seconds, drawn uniformly (whole samples) from this range,
      (0.1, 0.4) (unverified); the last span of a sample is cut to hit its share exactly, and
      spans may touch.
    - ``shared_spans``: the same spans in every lead (True, a purely temporal mask, so a
      masked stretch cannot be copied from another lead); False draws spans per lead.
    - ``shuffle_prob``: probability that a sample's leads are permuted, 0.5 (unverified); the
      other samples keep the downstream lead order.
    - ``reconstruct``: MSE on the masked samples only ("masked", default) or on all samples.
    - ``lead_weight``: weight of the lead-index cross-entropy, 1.0 (unverified).
    - ``lead_loss_on``: the slots the lead cross-entropy and ``lead_accuracy`` are computed
      on: "shuffled" (default) the slots of the samples drawn for shuffling, "all" every slot.
      With "all" and ``shuffle_prob`` 0.5 half the samples keep slot = lead, so the slot's
      position code alone reaches 0.5 + 0.5 / leads accuracy (54 % with 12 leads) and the
      loss rewards it; with "shuffled" that shortcut is at chance (1 / leads).
    - ``decoder_dim`` / ``decoder_depth`` / ``decoder_heads``: the decoder; depth 0 is a
      per-token linear head, default one transformer block of width 64, 4 heads (unverified).
    """

    size: str = "tiny"
    patch_size: int | None = None
    mask_ratio_range: tuple[float, float] = (0.2, 0.5)
    span_s: tuple[float, float] = (0.1, 0.4)
    shared_spans: bool = True
    shuffle_prob: float = 0.5
    reconstruct: ReconstructOn = "masked"
    lead_weight: float = 1.0
    lead_loss_on: LeadLossOn = "shuffled"
    decoder_dim: int = 64
    decoder_depth: int = 1
    decoder_heads: int = 4

    def __post_init__(self) -> None:
        where = "stmask"
        check_encoder_fields(where, self.size, self.patch_size)
        low, high = self.mask_ratio_range
        check_range(f"{where}.mask_ratio_range[0]", low, 0.0, 0.99)
        check_range(f"{where}.mask_ratio_range[1]", high, low, 0.99)
        if self.reconstruct == "masked" and high == 0.0:
            raise ConfigError(f"{where}.mask_ratio_range = (0, 0) masks nothing to reconstruct")
        if self.span_s[0] <= 0.0:
            raise ConfigError(f"{where}.span_s[0] = {self.span_s[0]!r} must be positive")
        check_range(f"{where}.span_s[1]", self.span_s[1], self.span_s[0])
        check_range(f"{where}.shuffle_prob", self.shuffle_prob, 0.0, 1.0)
        if self.reconstruct not in ("masked", "all"):
            raise ConfigError(f"{where}.reconstruct = {self.reconstruct!r} is not masked or all")
        check_range(f"{where}.lead_weight", self.lead_weight, 0.0)
        if self.lead_loss_on not in ("shuffled", "all"):
            raise ConfigError(
                f"{where}.lead_loss_on = {self.lead_loss_on!r} is not shuffled or all"
            )
        if self.lead_loss_on == "shuffled" and self.shuffle_prob == 0.0 and self.lead_weight > 0:
            raise ConfigError(
                f"{where}.lead_loss_on = 'shuffled' with shuffle_prob = 0 never trains the lead "
                "task; set lead_weight = 0, shuffle_prob > 0 or lead_loss_on = 'all'"
            )
        check_decoder(where, self.decoder_dim, self.decoder_depth, self.decoder_heads)


class Pretext(NamedTuple):
    """One batch's pretext: what the encoder sees and what it must recover.

    ``inputs`` [B, L, T]: shuffled leads with masked spans zeroed; ``targets`` [B, L, T]: the
    unmasked shuffled signal (slot s holds lead ``lead_targets[:, s]``); ``masked`` bool
    [B, 1 or L, T]: the zeroed samples; ``lead_targets`` long [B, L]: each slot's true lead;
    ``shuffled`` bool [B]: the samples drawn for shuffling.
    """

    inputs: Tensor
    targets: Tensor
    masked: Tensor
    lead_targets: Tensor
    shuffled: Tensor


def shuffle_leads(x: Tensor, prob: float) -> tuple[Tensor, Tensor, Tensor]:
    """(shuffled [B, L, T], perm long [B, L], drawn bool [B]); shuffled[b, s] = x[b, perm[b, s]].

    Each sample is drawn for shuffling with probability ``prob`` (``drawn``) and then gets a
    uniform random permutation (the identity among them, rarely); the others keep the order.
    """
    batch, leads, samples = x.shape
    perm = torch.rand(batch, leads, device=x.device).argsort(dim=1)
    shuffle = torch.rand(batch, 1, device=x.device) < prob
    perm = torch.where(shuffle, perm, torch.arange(leads, device=x.device))
    return x.gather(1, perm.unsqueeze(-1).expand(-1, -1, samples)), perm, shuffle[:, 0]


def random_span_mask(
    rows: int,
    length: int,
    ratio_range: tuple[float, float],
    span_range: tuple[int, int],
    device: torch.device | str | None = None,
) -> Tensor:
    """Bool [rows, length]: non-overlapping random spans covering a random share of each row.

    Each row masks ``round(r * length)`` samples, ``r ~ U(ratio_range)``, as spans whose
    lengths are drawn from ``span_range`` (inclusive, in samples; the last one is cut short to
    hit the count) and placed in order with random gaps.
    """
    low, high = ratio_range
    span_min, span_max = span_range
    ratio = low + (high - low) * torch.rand(rows, 1, device=device)
    n_masked = (ratio * length).round().long()
    n_spans = math.ceil(high * length / span_min) + 1
    drawn = torch.randint(span_min, span_max + 1, (rows, n_spans), device=device)
    before = drawn.cumsum(dim=1) - drawn
    lengths = (n_masked - before).clamp(min=0).minimum(drawn)
    free = length - n_masked
    gaps = (torch.rand(rows, n_spans, device=device) * (free + 1)).floor().long()
    starts = gaps.clamp(max=free).sort(dim=1).values + lengths.cumsum(dim=1) - lengths
    ones = torch.ones(rows, n_spans, device=device)
    edges = torch.zeros(rows, length + 1, device=device)
    edges.scatter_add_(1, starts, ones).scatter_add_(1, starts + lengths, -ones)
    return edges.cumsum(dim=1)[:, :length] > 0.5


@METHODS.register("stmask")
class SpatioTemporalMask(Method):
    """Reconstruct temporally masked, lead-shuffled crops and predict each slot's lead."""

    name: ClassVar[str] = "stmask"
    config_class: ClassVar[type[STMaskConfig]] = STMaskConfig
    compile_dynamic: ClassVar[bool] = True  # the lead loss's shuffled-sample count varies
    config: STMaskConfig

    def __init__(self, config: STMaskConfig, input_spec: InputSpec):
        super().__init__(config, input_spec)
        self.encoder = build_patch_encoder(config.size, config.patch_size, input_spec)
        self.n_patches = self.encoder.n_patches(input_spec.n_samples)
        rate, samples = input_spec.sampling_rate, input_spec.n_samples
        self.span_samples = (max(1, round(config.span_s[0] * rate)), round(config.span_s[1] * rate))
        if not self.span_samples[0] <= self.span_samples[1] <= samples:
            raise ConfigError(
                f"stmask.span_s = {config.span_s} gives spans of {self.span_samples} samples at "
                f"{rate} Hz; they must be within the crop of {samples} samples"
            )
        self.decoder = PatchDecoder(
            self.encoder.embed_dim,
            self.encoder.patch_size,
            config.decoder_dim,
            config.decoder_depth,
            config.decoder_heads,
        )
        self.lead_head = nn.Linear(self.encoder.embed_dim, input_spec.n_leads)

    def pretext(self, batch: Tensor) -> Pretext:
        """Shuffle the leads, then zero random time spans (torch's global RNG, on device)."""
        shuffled, perm, drawn = shuffle_leads(batch, self.config.shuffle_prob)
        rows, leads, samples = batch.shape
        mask_rows = 1 if self.config.shared_spans else leads
        masked = random_span_mask(
            rows * mask_rows,
            samples,
            self.config.mask_ratio_range,
            self.span_samples,
            batch.device,
        ).reshape(rows, mask_rows, samples)
        return Pretext(shuffled.masked_fill(masked, 0.0), shuffled, masked, perm, drawn)

    def loss(self, batch: Tensor) -> dict[str, Tensor]:
        """Reconstruction MSE + ``lead_weight`` * cross-entropy of each slot's true lead."""
        task = self.pretext(batch)
        rows, leads, samples = batch.shape
        tokens = self.encoder.tokens(task.inputs)
        prediction = self.decoder(tokens, leads, self.n_patches).reshape(rows, leads, samples)
        on = task.masked if self.config.reconstruct == "masked" else torch.ones_like(task.masked)
        reconstruction = masked_mse(prediction, task.targets, on)
        slots = tokens.reshape(rows, leads, self.n_patches, -1).mean(dim=2)
        logits = self.lead_head(slots).float()
        lead_ce, accuracy = self.lead_terms(logits, task)
        return {
            "loss": reconstruction + self.config.lead_weight * lead_ce,
            "reconstruction": reconstruction.detach(),
            "lead_ce": lead_ce.detach(),
            "lead_accuracy": accuracy,
        }

    def lead_terms(self, logits: Tensor, task: Pretext) -> tuple[Tensor, Tensor]:
        """(cross-entropy, accuracy) of the slots' lead logits [B, L, L] on ``lead_loss_on``.

        A batch without a shuffled sample gives a zero loss (still in the graph) and accuracy 0.
        """
        leads = logits.shape[1]
        rows = task.shuffled if self.config.lead_loss_on == "shuffled" else None
        logits = (logits if rows is None else logits[rows]).reshape(-1, leads)
        targets = (task.lead_targets if rows is None else task.lead_targets[rows]).reshape(-1)
        if not len(targets):
            return logits.sum() * 0.0, torch.zeros((), device=logits.device)
        accuracy = (logits.argmax(dim=1) == targets).float().mean()
        return F.cross_entropy(logits, targets), accuracy
