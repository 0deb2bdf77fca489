"""ECG-JEPA (Kim, arXiv 2410.08559): predict the target encoder's features of hidden time columns.

A context (student) encoder sees only the visible time columns of every lead; a narrow
predictor, run on each lead alone, predicts the features that an EMA copy of the encoder (the
target, computed on the full input) gives at the hidden columns, after a parameter-free
LayerNorm. Both encoders are the shared patch transformer with Cross-Pattern Attention in every
layer and 2-D sin-cos positions before every block.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from bench.config import check_range
from bench.encoders.base import InputSpec
from bench.encoders.cropa_sparse import CroPAGrid
from bench.encoders.patch_transformer import PatchTransformer
from bench.encoders.pos_embed import POS_LAYOUTS, PosLayout
from bench.errors import ConfigError
from bench.method import METHODS, CollapseRule, InputRegime, Method
from methods.jepa_masking import (
    TimeMask,
    bucket_rows,
    largest_block_union,
    multiblock_mask,
    random_mask,
)
from methods.jepa_predictor import PREDICTOR_POS, LeadwisePredictor, PredictorPos

CONTEXT_BUCKETS = 3
"""Most buckets a batch with per-sample visible counts is split into (1 = one padded batch)."""
MaskType = Literal["random", "multiblock"]
MaskPer = Literal["batch", "sample"]
LossType = Literal["smooth_l1", "l1"]


@dataclass(frozen=True)
class JEPAConfig:
    """ECG-JEPA settings; defaults are CPU-sized (tiny encoder), the paper's values are noted.

    - ``size``: patch-transformer size ("tiny" | "small" | "base"; paper: base = D 768,
      depth 12, 16 heads, drop-path 0.1, no qkv bias). ``patch_size``: samples per patch
      (None = the size's own: tiny 25, base 50; paper: 50 at 250 Hz).
    - ``drop_path``: stochastic-depth rate of the last encoder block (None = the size's own:
      tiny 0, base 0.1 as in the paper).
    - ``predictor_dim/depth/heads``: the per-lead predictor (paper: 384, 6, 12). Its
      drop-path rate is the encoder's, and its blocks have no qkv bias, as in the
      reference code.
    - ``mask_type``: "multiblock" (paper's best, 0.912 on PTB-XL superdiagnostic) or
      "random". ``random_ratio``: share of the time columns hidden by random masks, drawn
      per batch (paper: 0.6-0.7). ``block_ratio`` and ``mask_blocks``: length of each block
      as a share of the columns, drawn per block, and the number of blocks whose union is
      hidden (paper: 0.175-0.225, 4).
    - ``mask_per``: "batch" (default, the reference code: one mask for the whole batch) or
      "sample" (a mask per sample). ``blocks_reach_end``: False (default, the reference
      code's block starts, which never hide the last time column) or True (blocks may end
      at the last column). See ``methods.jepa_masking``.
    - ``ema_start``/``ema_end``: target momentum, rising linearly per step (paper: 0.996 -> 1);
      as in the reference code, the update after optimiser step k of T uses
      ``start + (end - start) * (k - 1) / T``, so ``end`` itself is never reached.
    - ``loss``: "smooth_l1" (the reference code, beta 1) or "l1" (the paper's text); the mean
      over hidden tokens and channels, in float32.
    - ``target_drop_path``: whether the target encoder applies stochastic depth while
      training. Default True, the reference code (its loop puts the whole model, teacher
      included, in training mode); False gives deterministic (eval-mode) targets.
    - ``depth_scaled_init``: divide each block's attention-output and MLP-output weights by
      ``sqrt(2 * layer)`` after the standard init, in both encoders and the predictor
      (default True, the reference code's ``fix_init_weight``; False: timm's plain init).
    - ``pos_layout``: the encoders' 2-D sin-cos layout (default "time_lead", the reference
      code: time code in the first half, lead code in the second, float64; "lead_time" is
      the reverse, in float32). ``norm_eps``: eps of every LayerNorm in the encoders and the
      predictor (default 1e-5, torch's, as in the reference code; timm's ViT uses 1e-6).
    - ``predictor_pos``: the predictor's position code (default "one_lead_grid", the
      reference code's 2-D code of a one-lead grid; "time_1d": a full-width 1-D time code);
      see ``methods.jepa_predictor``.
    - ``mask_token_decay``: whether AdamW's weight decay applies to the predictor's mask token
      (default True, the reference code; False exempts it like the other 1-D parameters, as
      this benchmark did before).

    - ``collapse_ratio``: the collapse guard (``bench.training.collapse``): a pretraining
      whose ``context_std`` (see ``context_spread``), averaged over its last epoch, ends
      below this share of its value at the first step (the untrained encoder's) is flagged
      as collapsed. Default 0.5, read off the subset's runs in the README section "ECG-JEPA
      on the subset: does it learn?".
    """

    size: str = "tiny"
    patch_size: int | None = None
    drop_path: float | None = None
    predictor_dim: int = 32
    predictor_depth: int = 2
    predictor_heads: int = 4
    mask_type: MaskType = "multiblock"
    random_ratio: tuple[float, float] = (0.6, 0.7)
    block_ratio: tuple[float, float] = (0.175, 0.225)
    mask_blocks: int = 4
    ema_start: float = 0.996
    ema_end: float = 1.0
    mask_per: MaskPer = "batch"
    blocks_reach_end: bool = False
    loss: LossType = "smooth_l1"
    target_drop_path: bool = True
    depth_scaled_init: bool = True
    pos_layout: PosLayout = "time_lead"
    norm_eps: float = 1e-5
    predictor_pos: PredictorPos = "one_lead_grid"
    mask_token_decay: bool = True
    collapse_ratio: float = 0.5

    def __post_init__(self) -> None:
        if self.size not in PatchTransformer.sizes:
            known = ", ".join(PatchTransformer.sizes)
            raise ConfigError(f"jepa.size = {self.size!r} is not one of {known}")
        if self.patch_size is not None:
            check_range("jepa.patch_size", self.patch_size, 1)
        if self.drop_path is not None and not 0 <= self.drop_path < 1:
            raise ConfigError(f"jepa.drop_path = {self.drop_path!r} must be in [0, 1)")
        check_range("jepa.predictor_dim", self.predictor_dim, 2)
        check_range("jepa.predictor_depth", self.predictor_depth, 1)
        check_range("jepa.predictor_heads", self.predictor_heads, 1)
        if self.predictor_pos not in PREDICTOR_POS:
            known = ", ".join(PREDICTOR_POS)
            raise ConfigError(f"jepa.predictor_pos = {self.predictor_pos!r} is not one of {known}")
        multiple = 4 if self.predictor_pos == "one_lead_grid" else 2
        if self.predictor_dim % self.predictor_heads or self.predictor_dim % multiple:
            raise ConfigError(
                f"jepa.predictor_dim = {self.predictor_dim} must be divisible by {multiple} "
                f"(predictor_pos {self.predictor_pos!r}) and by predictor_heads = "
                f"{self.predictor_heads}"
            )
        if self.mask_per not in ("batch", "sample"):
            raise ConfigError(f"jepa.mask_per = {self.mask_per!r} is not 'batch' or 'sample'")
        if self.pos_layout not in POS_LAYOUTS:
            known = ", ".join(POS_LAYOUTS)
            raise ConfigError(f"jepa.pos_layout = {self.pos_layout!r} is not one of {known}")
        check_range("jepa.norm_eps", self.norm_eps, 1e-12)
        check_range("jepa.collapse_ratio", self.collapse_ratio, 0.0)
        for name in ("random_ratio", "block_ratio"):
            low, high = getattr(self, name)
            if not 0 < low <= high < 1:
                raise ConfigError(
                    f"jepa.{name} = {[low, high]} must be a range [low, high] with "
                    "0 < low <= high < 1"
                )
        check_range("jepa.mask_blocks", self.mask_blocks, 1)
        if self.mask_blocks * self.block_ratio[1] >= 1:
            raise ConfigError(
                f"jepa.mask_blocks x block_ratio high = {self.mask_blocks} x "
                f"{self.block_ratio[1]} must be below 1, so that some columns stay visible"
            )
        check_range("jepa.ema_start", self.ema_start, 0.0, 1.0)
        check_range("jepa.ema_end", self.ema_end, self.ema_start, 1.0)


def context_spread(context: Tensor, mask: TimeMask) -> Tensor:
    """Std across the batch of the mean-pooled context tokens, averaged over channels.

    ``context`` is the context encoder's output ``[B, leads, K, D]`` on the visible columns of
    ``mask`` (filler slots excluded). Each token first loses the batch mean of the tokens at
    its (lead, time) position, so that samples showing different columns do not differ by
    their position codes alone; what is left is what tells records apart. It is the collapse
    diagnostic: a healthy encoder's pooled embedding differs between records, a collapsed one
    is nearly the same for all of them. Float32, without gradient; 0 for a batch of one.
    """
    batch, leads, width, dim = context.shape
    n_patches = mask.n_patches
    valid = mask.valid.to(torch.float32)
    slots = torch.where(mask.valid, mask.visible, n_patches)  # filler -> spare column P
    index = slots.view(batch, 1, width, 1).expand(batch, leads, width, dim)
    tokens = context.detach().float() * valid.view(batch, 1, width, 1)
    grid = tokens.new_zeros(batch, leads, n_patches + 1, dim).scatter(2, index, tokens)
    seen = valid.new_zeros(batch, n_patches + 1).scatter(1, slots, valid)
    grid, seen = grid[:, :, :n_patches], seen[:, :n_patches]
    position_mean = grid.sum(dim=0) / seen.sum(dim=0).clamp(min=1).view(1, n_patches, 1)
    deviation = (grid - position_mean) * seen.view(batch, 1, n_patches, 1)
    pooled = deviation.sum(dim=(1, 2)) / (seen.sum(dim=1, keepdim=True) * leads)
    return pooled.std(dim=0, correction=0).mean()


@METHODS.register("jepa")
class JEPA(Method):
    """ECG-JEPA: context encoder + per-lead predictor vs. an EMA target encoder.

    ``encoder`` is the context (student) encoder, the one used downstream: the reference
    code saves and evaluates it (its checkpoints hold ``model.encoder``), and it is the
    network that gradients train, so fine-tuning continues it. ``target_encoder`` is the EMA
    teacher (frozen, checkpointed with the method).
    """

    name: ClassVar[str] = "jepa"
    config_class: ClassVar[type[JEPAConfig]] = JEPAConfig
    # The paper's input (``input: native`` profiles): 10 s, FFT-resampled to 250 Hz, 8 leads.
    native_input: ClassVar[InputRegime] = InputRegime(250, "8", 10.0, "none", "fft")
    config: JEPAConfig
    encoder: PatchTransformer
    compile_dynamic: ClassVar[bool] = True  # the visible-column count changes with each mask

    def __init__(self, config: JEPAConfig, input_spec: InputSpec):
        super().__init__(config, input_spec)
        overrides: dict[str, object] = {
            "attention": "cropa",
            "pos_every_block": True,
            "pos_layout": config.pos_layout,
            "norm_eps": config.norm_eps,
            "depth_scaled_init": config.depth_scaled_init,
        }
        if config.patch_size is not None:
            overrides["patch_size"] = config.patch_size
        if config.drop_path is not None:
            overrides["drop_path"] = config.drop_path
        self.encoder = PatchTransformer.from_size(config.size, input_spec, **overrides)
        self.n_patches = self.encoder.n_patches(input_spec.n_samples)
        self._check_mask_fits()
        self.target_encoder = copy.deepcopy(self.encoder).requires_grad_(False)
        self.predictor = LeadwisePredictor(
            self.encoder.embed_dim,
            config.predictor_dim,
            config.predictor_depth,
            config.predictor_heads,
            mlp_ratio=self.encoder.config.mlp_ratio,
            drop_path=self.encoder.config.drop_path,
            positions=config.predictor_pos,
            norm_eps=config.norm_eps,
            depth_scaled_init=config.depth_scaled_init,
            mask_token_decay=config.mask_token_decay,
        )

    def _check_mask_fits(self) -> None:
        columns = self.n_patches
        blocks = self.config.mask_blocks
        too_few = columns < 2 or (
            self.config.mask_type == "multiblock"
            and largest_block_union(columns, blocks, self.config.block_ratio[1]) >= columns
        )
        if too_few:
            raise ConfigError(
                f"jepa: {columns} time patches per lead ({self.input_spec.n_samples} samples / "
                f"patch_size {self.encoder.patch_size}) are too few to hide with mask_type "
                f"{self.config.mask_type!r} ({blocks} blocks) and keep a visible column; use "
                "a longer window, a smaller patch_size or fewer mask_blocks"
            )

    def train(self, mode: bool = True) -> JEPA:
        """Training mode for all parts; the target drops paths only if ``target_drop_path``."""
        super().train(mode)
        self.target_encoder.train(mode and self.config.target_drop_path)
        return self

    def draw_mask(self, batch: int, device: torch.device) -> TimeMask:
        """Hidden time columns of ``batch`` samples, from torch's global RNG on ``device``.

        One mask repeated for the batch, or one per sample (``mask_per``).
        """
        config = self.config
        rows = 1 if config.mask_per == "batch" else batch
        if config.mask_type == "random":
            masked = random_mask(rows, self.n_patches, config.random_ratio, device)
        else:
            masked = multiblock_mask(
                rows,
                self.n_patches,
                config.mask_blocks,
                config.block_ratio,
                device,
                config.blocks_reach_end,
            )
        return TimeMask.from_masked(masked.repeat(batch // rows, 1))

    def context_tokens(self, x: Tensor, mask: TimeMask) -> Tensor:
        """Context encoder on the visible columns only: ``[B, leads, K, D]``.

        Hidden patches are never embedded or attended to (CroPA restricted to the visible
        tokens); filler slots carry zero patches and ids that no real token attends to. The
        tokens form a (lead x visible column) grid, so CroPA may run sparse; without padding
        (``mask.padded`` False, e.g. one mask per batch) no filler handling runs at all.
        With per-sample counts the batch runs in up to ``CONTEXT_BUCKETS`` buckets of similar
        counts, each padded only to its own longest (``bucket_rows``); the real tokens are the
        same as in one padded batch (attention never mixes samples); filler slots are
        meaningless (finite) there as here. Not while stochastic depth is active: its
        per-sample draws would come in another order, so such a step runs as one padded batch.
        """
        deterministic = not self.encoder.training or self.encoder.config.drop_path == 0
        if not mask.padded or not deterministic or CONTEXT_BUCKETS < 2:
            return self._encode_context(x, mask)
        counts = mask.valid.sum(dim=1).tolist()
        pieces, order = [], []
        for rows in bucket_rows(counts, CONTEXT_BUCKETS):
            widths = [counts[row] for row in rows]
            index = torch.tensor(rows, device=x.device)
            part = mask.rows(index, max(widths), min(widths) < max(widths))
            tokens = self._encode_context(x[index], part)
            pieces.append(F.pad(tokens, (0, 0, 0, mask.visible.shape[1] - max(widths))))
            order.extend(rows)
        inverse = torch.empty(len(order), dtype=torch.long)
        inverse[torch.tensor(order)] = torch.arange(len(order))
        return torch.cat(pieces)[inverse.to(x.device)]

    def _encode_context(self, x: Tensor, mask: TimeMask) -> Tensor:
        """``context_tokens`` of one (padded) batch."""
        patches = self.encoder.patchify(x)
        batch, leads, _, patch = patches.shape
        width = mask.visible.shape[1]
        index = mask.visible.view(batch, 1, width, 1).expand(batch, leads, width, patch)
        kept = patches.gather(2, index) * mask.valid.view(batch, 1, width, 1)
        h = self.encoder.patch_embed(kept.reshape(batch, leads * width, patch))
        lead_ids, time_ids = mask.context_ids(leads)
        grid = CroPAGrid(leads, mask.valid if mask.padded else None)
        tokens = self.encoder.encode_embedded(h, lead_ids, time_ids, grid)
        return tokens.view(batch, leads, width, -1)

    @torch.no_grad()
    def targets(self, x: Tensor) -> Tensor:
        """Target encoder on the full input + parameter-free LayerNorm: ``[B, leads, P, D]``."""
        h = self.target_encoder.tokens(x).float()
        h = F.layer_norm(h, (h.shape[-1],))
        return h.view(x.shape[0], x.shape[1], self.n_patches, -1)

    def loss(self, batch: Tensor) -> dict[str, Tensor]:
        """SmoothL1 (or L1) between predictions and targets at the hidden columns of every lead.

        Logged besides the loss: ``mask_ratio``; ``target_std``, the std of the normalised
        targets over all tokens (mostly their position part); ``context_std``, the collapse
        diagnostic of ``context_spread``.
        """
        mask = self.draw_mask(batch.shape[0], batch.device)
        target = self.targets(batch)
        context = self.context_tokens(batch, mask)
        prediction = self.predictor(context, mask).float()
        if self.config.loss == "smooth_l1":
            error = F.smooth_l1_loss(prediction, target, reduction="none", beta=1.0)
        else:
            error = F.l1_loss(prediction, target, reduction="none")
        hidden = mask.masked.view(batch.shape[0], 1, self.n_patches, 1).float()
        total = (error * hidden).sum()
        elements = hidden.sum() * target.shape[1] * target.shape[-1]
        return {
            "loss": total / elements,
            "mask_ratio": mask.masked.float().mean(),
            "target_std": target.std(dim=(0, 1, 2)).mean(),
            "context_std": context_spread(context, mask),
        }

    def collapse_rule(self) -> CollapseRule:
        """Collapsed when the last epoch's ``context_std`` < ``collapse_ratio`` x step 1's."""
        return CollapseRule("context_std", self.config.collapse_ratio)

    def momentum(self, step: int, total_steps: int) -> float:
        """EMA momentum after optimiser step ``step`` (1-based): the reference code's linear
        schedule, ``ema_start`` after the first step, one increment short of ``ema_end`` after
        the last."""
        config = self.config
        return config.ema_start + (config.ema_end - config.ema_start) * (step - 1) / total_steps

    @torch.no_grad()
    def on_step_end(self, step: int, total_steps: int) -> None:
        """target <- m * target + (1 - m) * student, with the scheduled momentum ``m``."""
        m = self.momentum(step, total_steps)
        targets = list(self.target_encoder.parameters())
        students = [p.detach() for p in self.encoder.parameters()]
        torch._foreach_mul_(targets, m)
        torch._foreach_add_(targets, torch._foreach_mul(students, 1.0 - m))
