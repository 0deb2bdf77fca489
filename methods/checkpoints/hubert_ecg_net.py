"""HuBERT-ECG's network: the Hugging Face ``HubertModel`` over the 12 leads concatenated.

The official ``HuBERTECG`` (Edoar-do/HuBERT-ECG, ``code/hubert_ecg.py``) subclasses
``transformers.HubertModel`` and only adds pretraining heads (``final_proj``,
``label_embedding``) and a masking hook; its encoder is ``HubertModel`` itself, so this module
builds ``HubertModel`` from a ``HubertConfig`` holding the official architecture (``pretrain.py``:
sizes, ``conv_*`` for ``--downsampling_factor=5``; every other field at ``HubertConfig``'s
default: group-normed first conv, post-LN blocks, conv positions of 128 taps in 16 groups).
``transformers`` is imported when an encoder is built, never at module import.

The network reads one sequence: the leads of [B, leads, samples] one after another (lead-major,
as the official ``ECGDataset`` flattens them), 6,000 samples for 12 leads x 5 s at 100 Hz, and
the conv front end (stride 64, receptive field 82 samples, no padding) turns it into 93 tokens.
``embed`` is the mean of the last hidden states over tokens (``HuBERTForECGClassification``'s
pooling without an attention mask). ``features`` has one step per 64 samples of a lead
(``feature_stride`` 64): step ``k`` of lead ``l`` is token ``(l * samples) // 64 + k``, the one
whose stride starts at or up to 63 samples before that lead's sample ``64 k`` (leads do not
start on token boundaries: 500 / 64 is not whole), and a step is the mean of its tokens over
leads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import ModuleType
from typing import Any, ClassVar

import torch
from torch import Tensor

from bench.encoders.base import Encoder, InputSpec
from bench.errors import BenchError, ConfigError

TRANSFORMERS_MISSING = (
    "HuBERT-ECG is built on Hugging Face transformers (HubertModel), which is not installed: "
    "pip install 'ecg-ssl-bench[checkpoints]' (or pip install 'transformers>=5')"
)

FIXED_ARCHITECTURE: dict[str, Any] = {
    "feat_extract_norm": "group",
    "feat_extract_activation": "gelu",
    "feat_proj_layer_norm": True,
    "conv_bias": False,
    "do_stable_layer_norm": False,
    "hidden_act": "gelu",
    "layer_norm_eps": 1e-5,
}
"""``HubertConfig`` fields the official code leaves at their defaults (transformers 4.46.3)."""


@dataclass(frozen=True)
class HuBERTECGNetConfig:
    """Size of a HuBERT-ECG network (defaults: the released SMALL, ``pretrain.py``).

    ``conv_*``: the conv front end (``--downsampling_factor=5``: 100 Hz input);
    ``pos_conv_kernel``/``pos_conv_groups``: the convolutional position code; ``dropout``
    (hidden, attention, activation and projection dropout) and ``layerdrop``: 0.0, as the
    authors' fine-tuning runs set them (``finetune.sh``: ``--model_dropout_mult=-2``, dropout
    0.1 - 2 x 0.05; ``--finetuning_layerdrop=0.0`` on Ribeiro, PTB and SPH, 0.1 elsewhere).
    """

    hidden: int = 512
    depth: int = 8
    heads: int = 8
    mlp: int = 2048
    conv_dim: tuple[int, ...] = (512, 512, 512, 512, 512)
    conv_kernel: tuple[int, ...] = (10, 3, 3, 2, 2)
    conv_stride: tuple[int, ...] = (4, 2, 2, 2, 2)
    pos_conv_kernel: int = 128
    pos_conv_groups: int = 16
    dropout: float = 0.0
    layerdrop: float = 0.0

    def __post_init__(self) -> None:
        if self.hidden % self.heads or self.hidden % self.pos_conv_groups:
            raise ConfigError(
                f"HuBERT-ECG: hidden={self.hidden} must be divisible by heads={self.heads} and "
                f"pos_conv_groups={self.pos_conv_groups}"
            )
        if not len(self.conv_dim) == len(self.conv_kernel) == len(self.conv_stride):
            raise ConfigError("HuBERT-ECG: conv_dim, conv_kernel and conv_stride differ in length")

    def architecture(self) -> dict[str, Any]:
        """The ``HubertConfig`` fields that decide the computation (a released config.json
        must agree with them)."""
        return {
            "hidden_size": self.hidden,
            "num_hidden_layers": self.depth,
            "num_attention_heads": self.heads,
            "intermediate_size": self.mlp,
            "conv_dim": list(self.conv_dim),
            "conv_kernel": list(self.conv_kernel),
            "conv_stride": list(self.conv_stride),
            "num_conv_pos_embeddings": self.pos_conv_kernel,
            "num_conv_pos_embedding_groups": self.pos_conv_groups,
            **FIXED_ARCHITECTURE,
        }

    def hubert_config(self) -> Any:
        """The ``transformers.HubertConfig`` of this size, masking off (no mask embedding)."""
        rate = self.dropout
        return import_transformers().HubertConfig(
            **self.architecture(), mask_time_prob=0.0, mask_feature_prob=0.0,
            hidden_dropout=rate, attention_dropout=rate, activation_dropout=rate,
            feat_proj_dropout=rate, final_dropout=rate, layerdrop=self.layerdrop,
        )  # fmt: skip


HUBERT_ECG_SIZES: dict[str, HuBERTECGNetConfig] = {
    "small": HuBERTECGNetConfig(),
    "base": HuBERTECGNetConfig(hidden=768, depth=12, heads=12, mlp=3072),
    "large": HuBERTECGNetConfig(hidden=960, depth=16, heads=12, mlp=3840),
    "tiny": HuBERTECGNetConfig(hidden=32, depth=2, heads=4, mlp=64, conv_dim=(16,) * 5),
}
"""``pretrain.py``'s ``--largeness`` sizes; ``tiny``: the conformance fixture's."""


class HuBERTECGNet(Encoder):
    """``HubertModel`` (as ``self.hubert``) over the lead-major concatenation of the leads."""

    config_class: ClassVar[type[Any]] = HuBERTECGNetConfig
    sizes: ClassVar[dict[str, HuBERTECGNetConfig]] = HUBERT_ECG_SIZES

    def __init__(self, config: HuBERTECGNetConfig, input_spec: InputSpec):
        super().__init__(config, input_spec)
        field = input_spec.n_leads * input_spec.n_samples
        if field < receptive_field(config):
            raise ConfigError(
                f"HuBERT-ECG: {input_spec.n_leads} leads x {input_spec.n_samples} samples is "
                f"shorter than the conv front end's receptive field ({receptive_field(config)})"
            )
        self.hubert = import_transformers().HubertModel(config.hubert_config())
        self.embed_dim = self.feature_dim = config.hidden
        self.stride = math.prod(config.conv_stride)

    @property
    def feature_stride(self) -> int:
        """Samples of one lead per ``features`` step: the conv front end's total stride."""
        return self.stride

    def tokens(self, x: Tensor) -> Tensor:
        """[B, leads, samples] -> the last hidden states [B, tokens, hidden]."""
        sequence = x.reshape(x.shape[0], -1)
        return self.hubert(sequence, return_dict=True).last_hidden_state

    def embed(self, x: Tensor) -> Tensor:
        """[B, leads, samples] -> the mean of the last hidden states [B, hidden]."""
        return self.tokens(x).mean(dim=1)

    def features(self, x: Tensor) -> Tensor:
        """[B, leads, samples] -> [B, ceil(samples / 64), hidden]: per step, the mean over
        leads of the token that covers that lead's step (module docstring)."""
        hidden = self.tokens(x)
        leads, samples = x.shape[1], x.shape[2]
        steps = torch.arange(math.ceil(samples / self.stride), device=x.device)
        starts = torch.arange(leads, device=x.device) * samples // self.stride
        index = (starts[:, None] + steps[None, :]).clamp(max=hidden.shape[1] - 1)
        return hidden[:, index].mean(dim=1)


def import_transformers() -> ModuleType:
    """The ``transformers`` module, or a BenchError saying how to install it."""
    try:
        import transformers
    except ImportError as error:
        raise BenchError(TRANSFORMERS_MISSING) from error
    return transformers


def receptive_field(config: HuBERTECGNetConfig) -> int:
    """Input samples one token of the conv front end sees."""
    field, jump = 1, 1
    for kernel, stride in zip(config.conv_kernel, config.conv_stride, strict=True):
        field += (kernel - 1) * jump
        jump *= stride
    return field
