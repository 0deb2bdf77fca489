"""The 1-D ECG ViT of ST-MEM and of MERL: one pre-norm transformer, two tokenisers.

Both official repositories build the same block (lucidrains' ``vit_pytorch`` 1-D ViT: pre-norm
attention with a fused biased qkv and an output projection, pre-norm GELU MLP, torch's
LayerNorm eps 1e-5): here timm's ``Block``, which computes the same function. What differs is
how a record [B, leads, samples] becomes tokens (``ViT1dConfig.tokens``):

- ``"lead"`` (ST-MEM, bakqui/ST-MEM ``models/encoder/st_mem_vit.py``): every lead is cut into
  ``patch_size``-sample patches; LayerNorm(patch) -> Linear -> LayerNorm(width) embeds each
  patch; time position ``p`` (1..n) of a learned table of ``n_max + 2`` rows is added, a SEP
  token (+ row 0) opens and a SEP token (+ the table's last row) closes each lead, a lead
  embedding is added to every token of its lead, and the leads are laid end to end.
- ``"conv"`` (MERL, cheliu-computation/MERL-ICML2024 ``utils/vit1d.py``): a bias-free Conv1d
  over all leads with kernel = stride = ``patch_size`` makes one token per time patch, plus a
  learned position table of exactly ``n`` rows.

After the blocks, the official ``forward_encoding`` of both averages the patch tokens (ST-MEM
over leads and time, SEP tokens left out) and applies the final LayerNorm to that mean: that
is ``embed`` (what their linear probes and fine-tuning heads take). ``features`` (stride
``patch_size``) applies the final LayerNorm to every patch token, as ST-MEM's pretraining
encoder does before its decoder, and averages each time patch over the leads; ``embed`` is
therefore the final norm of the un-normed token mean, not the mean of ``features``.

The official attention uses ``heads`` of ``dim_head`` channels (64 in every released size,
``width = heads * dim_head``); timm's splits ``width`` into ``heads``, so this module needs
``width % heads == 0`` and at least two heads (with one head of ``width`` channels the official
code drops its output projection).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import torch
from timm.models.vision_transformer import Block
from torch import Tensor, nn

from bench.config import check_range
from bench.encoders.base import Encoder, InputSpec
from bench.encoders.pos_embed import sincos_1d
from bench.errors import ConfigError

Tokens = Literal["lead", "conv"]


@dataclass(frozen=True)
class ViT1dConfig:
    """Size and tokeniser of the 1-D ViT.

    ``tokens``: "lead" (ST-MEM: per-lead patches, SEP and lead embeddings) or "conv" (MERL:
    one Conv1d token per time patch over all leads). ``mlp_dim``: hidden width of the MLP.
    ``seq_len``: the window (samples) the position table covers: "lead" takes any multiple of
    ``patch_size`` up to it, "conv" exactly ``seq_len`` samples.
    """

    tokens: Tokens
    width: int
    depth: int
    heads: int
    mlp_dim: int
    patch_size: int
    seq_len: int

    def __post_init__(self) -> None:
        where = "ViT1dConfig"
        if self.tokens not in ("lead", "conv"):
            raise ConfigError(f"{where}.tokens = {self.tokens!r} is not one of lead, conv")
        check_range(f"{where}.depth", self.depth, 1)
        check_range(f"{where}.heads", self.heads, 2)
        check_range(f"{where}.mlp_dim", self.mlp_dim, 1)
        check_range(f"{where}.patch_size", self.patch_size, 1)
        check_range(f"{where}.seq_len", self.seq_len, self.patch_size)
        if self.width % self.heads:
            raise ConfigError(f"{where}.width = {self.width} is not a multiple of heads")
        if self.seq_len % self.patch_size:
            raise ConfigError(f"{where}.seq_len = {self.seq_len} is not a multiple of patch_size")

    @property
    def n_max(self) -> int:
        """Time patches the position table covers."""
        return self.seq_len // self.patch_size


class LeadTokens(nn.Module):
    """ST-MEM's tokeniser: per-lead patch embedding, positions, SEP and lead embeddings."""

    def __init__(self, config: ViT1dConfig, n_leads: int):
        super().__init__()
        self.patch_size = config.patch_size
        self.patch_norm = nn.LayerNorm(config.patch_size)
        self.patch_embed = nn.Linear(config.patch_size, config.width)
        self.embed_norm = nn.LayerNorm(config.width)
        self.pos = nn.Parameter(torch.zeros(1, config.n_max + 2, config.width))
        self.sep = nn.Parameter(torch.zeros(config.width))
        self.lead = nn.Parameter(torch.zeros(n_leads, config.width))

    def reset_parameters(self) -> None:
        """ST-MEM's pretraining init: sin-cos time positions with zero SEP rows, N(0, 0.02)
        SEP and lead embeddings (the Linear/LayerNorm init is the encoder's)."""
        width = self.pos.shape[-1]
        times = sincos_1d(torch.arange(self.pos.shape[1] - 2), width)
        with torch.no_grad():
            self.pos.zero_()
            self.pos[0, 1:-1] = times
        nn.init.normal_(self.sep, std=0.02)
        nn.init.normal_(self.lead, std=0.02)

    def forward(self, x: Tensor) -> Tensor:
        """[B, leads, samples] -> lead-major tokens [B, leads * (n + 2), width]."""
        return self.frame(self.patch_embeddings(x))

    def patch_embeddings(self, x: Tensor) -> Tensor:
        """[B, leads, samples] -> embedded patches plus their time positions [B, leads, n,
        width] (ST-MEM's pretraining masks these, before the SEP and lead embeddings)."""
        batch, leads, samples = x.shape
        n = samples // self.patch_size
        patches = x.reshape(batch, leads, n, self.patch_size)
        h = self.embed_norm(self.patch_embed(self.patch_norm(patches)))
        return h + self.pos[:, 1 : n + 1].unsqueeze(1)

    def frame(self, patches: Tensor) -> Tensor:
        """Patch embeddings [B, leads, k, width] (all of a lead's, or the visible ones) ->
        each lead between its SEP tokens, plus its lead embedding, leads laid end to end:
        [B, leads * (k + 2), width]."""
        batch, leads = patches.shape[:2]
        left = (self.sep + self.pos[0, 0]).expand(batch, leads, 1, -1)
        right = (self.sep + self.pos[0, -1]).expand(batch, leads, 1, -1)
        h = torch.cat([left, patches, right], dim=2) + self.lead[None, :, None, :]
        return h.reshape(batch, -1, h.shape[-1])

    def patch_grid(self, tokens: Tensor, leads: int) -> Tensor:
        """Tokens -> the patch tokens as [B, leads, n, width] (SEP tokens dropped)."""
        batch, count, width = tokens.shape
        return tokens.reshape(batch, leads, count // leads, width)[:, :, 1:-1]


class ConvTokens(nn.Module):
    """MERL's tokeniser: a bias-free Conv1d patch embedding over all leads, learned positions."""

    def __init__(self, config: ViT1dConfig, n_leads: int):
        super().__init__()
        self.patch_embed = nn.Conv1d(
            n_leads, config.width, config.patch_size, stride=config.patch_size, bias=False
        )
        self.pos = nn.Parameter(torch.zeros(1, config.n_max, config.width))

    def reset_parameters(self) -> None:
        """MERL's init: N(0, 1) positions (torch's default for the convolution)."""
        nn.init.normal_(self.pos)

    def forward(self, x: Tensor) -> Tensor:
        """[B, leads, samples] -> one token per time patch [B, n, width]."""
        return self.patch_embed(x).transpose(1, 2) + self.pos

    def patch_grid(self, tokens: Tensor, leads: int) -> Tensor:
        """Tokens -> [B, 1, n, width] (one token row covers every lead)."""
        return tokens.unsqueeze(1)


class ViT1d(Encoder):
    """ST-MEM's or MERL's 1-D ViT encoder (``ViT1dConfig.tokens``), see the module docstring."""

    config_class: ClassVar[type[ViT1dConfig]] = ViT1dConfig
    config: ViT1dConfig

    def __init__(self, config: ViT1dConfig, input_spec: InputSpec):
        super().__init__(config, input_spec)
        self.embed_dim = self.feature_dim = config.width
        self.check_samples(input_spec.n_samples)
        token_class = LeadTokens if config.tokens == "lead" else ConvTokens
        self.tokens = token_class(config, input_spec.n_leads)
        self.blocks = nn.ModuleList(
            Block(config.width, config.heads, mlp_ratio=config.mlp_dim / config.width,
                  qkv_bias=True, norm_layer=nn.LayerNorm)
            for _ in range(config.depth)
        )  # fmt: skip
        for block in self.blocks:
            if block.mlp.fc1.out_features != config.mlp_dim:
                raise ConfigError(f"ViT1dConfig.mlp_dim = {config.mlp_dim}: not a whole ratio")
        self.norm = nn.LayerNorm(config.width)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The official untrained state: ST-MEM's pretraining init (xavier-uniform Linear
        weights, zero biases) or MERL's (torch's defaults), then the tokeniser's."""
        if self.config.tokens == "lead":
            for module in self.modules():
                if isinstance(module, nn.Linear):
                    nn.init.xavier_uniform_(module.weight)
                    nn.init.zeros_(module.bias)
        self.tokens.reset_parameters()

    def check_samples(self, samples: int) -> None:
        """ConfigError unless ``samples`` fits the position table (see ``ViT1dConfig``)."""
        config = self.config
        fits = samples % config.patch_size == 0 and config.patch_size <= samples
        fits = fits and (samples == config.seq_len or config.tokens == "lead")
        if not fits or samples > config.seq_len:
            wanted = "a multiple of" if config.tokens == "lead" else "exactly"
            raise ConfigError(
                f"vit1d ({config.tokens} tokens): input of {samples} samples; it takes {wanted} "
                f"{config.patch_size}-sample patches up to its window of {config.seq_len} samples"
                "; feed the model's official window"
            )

    def patch_tokens(self, x: Tensor) -> Tensor:
        """[B, leads, samples] -> block outputs of the patch tokens [B, leads or 1, n, width]."""
        if x.dim() != 3:
            raise ConfigError(f"vit1d: expected input [batch, leads, samples], got {x.shape}")
        self.check_samples(x.shape[-1])
        h = self.tokens(x)
        for block in self.blocks:
            h = block(h)
        return self.tokens.patch_grid(h, x.shape[1])

    def embed(self, x: Tensor) -> Tensor:
        """Final LayerNorm of the mean patch token (the official representation): [B, width]."""
        return self.norm(self.patch_tokens(x).mean(dim=(1, 2)))

    def features(self, x: Tensor) -> Tensor:
        """Per time patch, the lead mean of the final-normed tokens: [B, n, width]."""
        return self.norm(self.patch_tokens(x)).mean(dim=1)

    @property
    def feature_stride(self) -> int:
        """One step per patch: ``patch_size`` samples."""
        return self.config.patch_size

    def forward(self, x: Tensor) -> Tensor:
        """Same as ``embed``."""
        return self.embed(x)


OFFICIAL_BLOCK_PARTS: tuple[tuple[str, str], ...] = (
    ("attn.norm.", "norm1."),
    ("attn.fn.to_qkv.", "attn.qkv."),
    ("attn.fn.to_out.0.", "attn.proj."),
    ("ff.norm.", "norm2."),
    ("ff.fn.net.0.", "mlp.fc1."),
    ("ff.fn.net.3.", "mlp.fc2."),
)
"""Official (lucidrains-style) block parameter prefixes and timm's ``Block`` names."""


def timm_block_keys(official: str) -> str:
    """An official block key (``block3.attn.fn.to_qkv.weight``) -> this module's
    (``blocks.3.attn.qkv.weight``); other keys come back unchanged."""
    head, _, rest = official.partition(".")
    if not (head.startswith("block") and head[5:].isdigit()):
        return official
    for old, new in OFFICIAL_BLOCK_PARTS:
        if rest.startswith(old):
            return f"blocks.{head[5:]}.{new}{rest[len(old) :]}"
    return official
