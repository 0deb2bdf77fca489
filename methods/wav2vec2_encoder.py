"""wav2vec 2.0's network for 12-lead ECG, as fairseq-signals builds it (Oh et al., 2022; ECG-FM).

Facts from fairseq-signals (Jwoo5/fairseq-signals, commit 6b9e137: ``models/ecg_transformer.py``,
``models/transformer.py``, ``modules/conv_feature_extraction.py``,
``modules/conv_positional_encoding.py``, ``modules/transformer_encoder*.py``):

- Feature encoder: bias-free Conv1d layers over all leads (``conv_layers``: channels, kernel,
  stride; default four of (256, 2, 2), one frame per 16 samples, 32 ms at 500 Hz), each
  followed by GELU, the first also by a GroupNorm with one group per channel ("default"
  extractor mode); Kaiming-normal weights. ``frames``: a LayerNorm over the channels.
- Context network: the frames projected to ``width`` (a Linear when the widths differ), a
  dropout (``dropout_input``), then the convolutional relative position embedding, added:
  a grouped Conv1d of kernel ``conv_pos`` (128) in ``conv_pos_groups`` (16) groups, weight
  normalisation over the kernel axis (``dim=2``), "same" padding (the last step dropped for an
  even kernel), GELU; then a LayerNorm and a dropout, and post-norm transformer layers
  (``layer_norm_first`` False): x = LN(x + drop(attention(x))), x = LN(x + drop(fc2(
  drop_act(GELU(fc1(x)))))), BERT-initialised (Linear weights N(0, 0.02), zero biases).
- ``embed``: the mean over time of the context network's outputs on the unmasked input, as
  fairseq-signals' classifier pools them. ``features``: those outputs per frame, stride = the
  product of the strides; the frames of an input whose length is no multiple of it are
  completed by repeating the last frame (the convolutions drop the tail), so that there are
  ``ceil(samples / stride)`` of them.

Masking, quantisation and the loss belong to ``methods.wav2vec2``. This encoder belongs to
that method and is not a shared backbone (not in ``bench.encoders``' registry).
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bench.config import check_range
from bench.encoders.base import Encoder, InputSpec
from bench.errors import ConfigError

ConvLayer = tuple[int, int, int]


@dataclass(frozen=True)
class Wav2Vec2EncoderConfig:
    """Sizes and dropouts (defaults: ``tiny``; fairseq-signals' values: ``base``)."""

    conv_layers: tuple[ConvLayer, ...] = ((64, 2, 2), (64, 2, 2))
    width: int = 64
    depth: int = 2
    heads: int = 4
    ffn_dim: int = 256
    conv_pos: int = 16
    conv_pos_groups: int = 4
    dropout: float = 0.1
    attention_dropout: float = 0.1
    activation_dropout: float = 0.0
    dropout_input: float = 0.1

    def __post_init__(self) -> None:
        where = "wav2vec2 encoder"
        if not self.conv_layers:
            raise ConfigError(f"{where}.conv_layers must list at least one (channels, kernel, "
                              "stride) layer")  # fmt: skip
        for index, layer in enumerate(self.conv_layers):
            for name, value in zip(("channels", "kernel", "stride"), layer, strict=True):
                check_range(f"{where}.conv_layers[{index}].{name}", value, 1)
        for name in ("width", "depth", "heads", "ffn_dim", "conv_pos", "conv_pos_groups"):
            check_range(f"{where}.{name}", getattr(self, name), 1)
        if self.width % self.heads or self.width % self.conv_pos_groups:
            raise ConfigError(
                f"{where}.width = {self.width} must be divisible by heads = {self.heads} and "
                f"by conv_pos_groups = {self.conv_pos_groups}"
            )
        for name in ("dropout", "attention_dropout", "activation_dropout", "dropout_input"):
            check_range(f"{where}.{name}", getattr(self, name), 0.0, 0.99)

    @property
    def stride(self) -> int:
        """Input samples per frame."""
        return math.prod(stride for _, _, stride in self.conv_layers)

    def n_frames(self, samples: int) -> int:
        """Frames the feature encoder makes of ``samples`` (no padding)."""
        for _, kernel, stride in self.conv_layers:
            samples = (samples - kernel) // stride + 1
        return samples


WAV2VEC2_SIZES: dict[str, Wav2Vec2EncoderConfig] = {
    "tiny": Wav2Vec2EncoderConfig(),
    "base": Wav2Vec2EncoderConfig(
        conv_layers=((256, 2, 2),) * 4, width=768, depth=12, heads=12, ffn_dim=3072,
        conv_pos=128, conv_pos_groups=16,
    ),
}  # fmt: skip
"""``tiny`` for CPU runs; ``base``: fairseq-signals' defaults (the ECG wav2vec 2.0 / W2V+CMSC+RLM
encoder, 768 wide, 12 layers)."""


class ConvPositions(nn.Module):
    """wav2vec 2.0's convolutional relative position embedding: [B, T, D] -> [B, T, D]."""

    def __init__(self, width: int, kernel: int, groups: int):
        super().__init__()
        conv = nn.Conv1d(width, width, kernel, padding=kernel // 2, groups=groups)
        nn.init.normal_(conv.weight, mean=0.0, std=math.sqrt(4.0 / (kernel * width)))
        nn.init.zeros_(conv.bias)
        self.conv = nn.utils.parametrizations.weight_norm(conv, name="weight", dim=2)
        self.trim = 1 if kernel % 2 == 0 else 0

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv(x.transpose(1, 2))
        if self.trim:
            h = h[:, :, : -self.trim]
        return F.gelu(h).transpose(1, 2)


class PostNormLayer(nn.Module):
    """A post-norm transformer layer (fairseq's ``layer_norm_first=False``)."""

    def __init__(self, config: Wav2Vec2EncoderConfig):
        super().__init__()
        width = config.width
        self.attention = nn.MultiheadAttention(
            width, config.heads, dropout=config.attention_dropout, batch_first=True
        )
        self.attention_norm = nn.LayerNorm(width)
        self.fc1 = nn.Linear(width, config.ffn_dim)
        self.fc2 = nn.Linear(config.ffn_dim, width)
        self.final_norm = nn.LayerNorm(width)
        self.dropout = nn.Dropout(config.dropout)
        self.activation_dropout = nn.Dropout(config.activation_dropout)

    def reset_parameters(self) -> None:
        """BERT's init: every projection N(0, 0.02), zero biases."""
        for weight in (self.attention.in_proj_weight, self.attention.out_proj.weight,
                       self.fc1.weight, self.fc2.weight):  # fmt: skip
            nn.init.normal_(weight, std=0.02)
        for bias in (self.attention.in_proj_bias, self.attention.out_proj.bias,
                     self.fc1.bias, self.fc2.bias):  # fmt: skip
            nn.init.zeros_(bias)

    def forward(self, x: Tensor) -> Tensor:
        attended, _ = self.attention(x, x, x, need_weights=False)
        x = self.attention_norm(x + self.dropout(attended))
        h = self.fc2(self.activation_dropout(F.gelu(self.fc1(x))))
        return self.final_norm(x + self.dropout(h))


class Wav2Vec2Encoder(Encoder):
    """Convolutional feature encoder + transformer context network (see the module docstring)."""

    config_class: ClassVar[type[Wav2Vec2EncoderConfig]] = Wav2Vec2EncoderConfig
    sizes: ClassVar[dict[str, Wav2Vec2EncoderConfig]] = WAV2VEC2_SIZES
    config: Wav2Vec2EncoderConfig

    def __init__(self, config: Wav2Vec2EncoderConfig, input_spec: InputSpec):
        super().__init__(config, input_spec)
        if config.n_frames(input_spec.n_samples) < 1:
            raise ConfigError(
                f"wav2vec2: a crop of {input_spec.n_samples} samples is shorter than the "
                f"feature encoder's receptive field ({config.conv_layers}); use longer crops"
            )
        layers: list[nn.Module] = []
        channels = input_spec.n_leads
        for index, (out, kernel, stride) in enumerate(config.conv_layers):
            conv = nn.Conv1d(channels, out, kernel, stride=stride, bias=False)
            nn.init.kaiming_normal_(conv.weight)
            norm = [nn.GroupNorm(out, out)] if index == 0 else []
            layers.append(nn.Sequential(conv, *norm, nn.GELU()))
            channels = out
        self.conv = nn.Sequential(*layers)
        self.channels = channels
        self.frame_norm = nn.LayerNorm(channels)
        self.project = nn.Linear(channels, config.width) if channels != config.width else None
        self.dropout_input = nn.Dropout(config.dropout_input)
        self.positions = ConvPositions(config.width, config.conv_pos, config.conv_pos_groups)
        self.norm = nn.LayerNorm(config.width)
        self.dropout = nn.Dropout(config.dropout)
        self.layers = nn.ModuleList(PostNormLayer(config) for _ in range(config.depth))
        for layer in self.layers:
            layer.reset_parameters()
        self.embed_dim = self.feature_dim = config.width
        self.freeze_features = False

    def conv_features(self, x: Tensor) -> Tensor:
        """The feature encoder: [B, leads, samples] -> [B, channels, frames]."""
        if x.dim() != 3 or x.shape[1] != self.input_spec.n_leads:
            raise ConfigError(
                f"wav2vec2 encoder: expected input [batch, {self.input_spec.n_leads} leads, "
                f"samples], got {tuple(x.shape)}"
            )
        return self.conv(x)

    def frames(self, conv: Tensor) -> Tensor:
        """Feature-encoder output [B, channels, T] -> layer-normed frames [B, T, channels]."""
        return self.frame_norm(conv.transpose(1, 2))

    def context(
        self, frames: Tensor, masked: Tensor | None = None, mask_embedding: Tensor | None = None
    ) -> Tensor:
        """Frames [B, T, channels] -> context [B, T, width]; the frames where ``masked`` (bool
        [B, T]) is True are replaced by ``mask_embedding`` after the input dropout."""
        h = frames if self.project is None else self.project(frames)
        h = self.dropout_input(h)
        if masked is not None:
            assert mask_embedding is not None, "masked frames need a mask embedding"
            h = torch.where(masked.unsqueeze(-1), mask_embedding.to(h.dtype), h)
        h = h + self.positions(h)
        h = self.dropout(self.norm(h))
        for layer in self.layers:
            h = layer(h)
        return h

    def encode(self, x: Tensor) -> Tensor:
        """The context network on the unmasked input: [B, leads, samples] -> [B, T, width].
        With ``freeze_features`` the feature encoder runs without gradient (fairseq-signals'
        fine-tuning); pretraining calls ``conv_features`` itself and is not affected."""
        with torch.no_grad() if self.freeze_features else nullcontext():
            conv = self.conv_features(x)
        return self.context(self.frames(conv))

    def embed(self, x: Tensor) -> Tensor:
        """Mean over time of the context: [B, width]."""
        return self.encode(x).mean(dim=1)

    def features(self, x: Tensor) -> Tensor:
        """The context per frame, the last repeated up to ``ceil(samples / stride)`` frames."""
        h = self.encode(x)
        wanted = -(-x.shape[-1] // self.feature_stride)
        if h.shape[1] < wanted:
            h = torch.cat([h, h[:, -1:].expand(-1, wanted - h.shape[1], -1)], dim=1)
        return h

    @property
    def feature_stride(self) -> int:
        """Input samples per frame: the product of the convolutions' strides."""
        return self.config.stride

    def forward(self, x: Tensor) -> Tensor:
        """Same as ``embed``."""
        return self.embed(x)
