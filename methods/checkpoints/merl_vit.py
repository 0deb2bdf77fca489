"""MERL (Liu et al., ICML 2024): the published ViT-1D ECG encoder, as its official code runs it.

Facts from cheliu-computation/MERL-ICML2024 (commit 38799b7deb1c9958f41badcfacc6a95192787cc4):

- Weights: the README's Google Drive folder holds ResNet and ViT releases, "xxx_encoder.pth"
  being the ECG encoder alone; the ViT one is ``vit_tiny_best_encoder.pth`` (the name users of
  the release load; ``pretrain/config.yaml`` trains ``vit_tiny``). ``utils/utils_trainer.py``
  writes it as ``torch.save(ecg_encoder.state_dict())``: a plain state dict of
  ``utils/vit1d.py``'s ``ViT``, no wrapping. The whole-model file (``*_ckpt.pth``, a plain
  state dict of ``ECGCLIP``) keeps it under ``ecg_encoder.*``; ``convert`` accepts that too and
  drops the projection heads and the text model explicitly. ``finetune/main_single.py`` adds a
  ``head`` Linear and saves ``{'model': ...}``; such a fine-tuned file is refused.
- Architecture (``vit_tiny``): bias-free Conv1d patch embedding (12 leads -> 192, 50-sample
  patches), 100 learned positions, 12 blocks of width 192 with 3 heads of 64 and MLP 768; the
  representation (``forward_encoding``, what the linear probe takes) is the final LayerNorm of
  the mean token. See ``methods.checkpoints.vit1d_net`` (the block ST-MEM uses too).
- Input (``finetune/finetune_dataset.py``, the linear-probe data; PTB-XL branch): the record
  at 500 Hz as read by ``wfdb.rdsamp`` (mV), its first 5,000 samples (10 s), one min-max over
  the whole record, all leads together, to [0, 1] (``(x - min) / (max - min + 1e-8)``), then
  leads 4 and 5 swapped: the model takes MIMIC-IV-ECG's order I, II, III, aVR, aVF, aVL,
  V1-V6. No filter, no resampling (every dataset it uses is at 500 Hz); its CPSC 2018 branch
  keeps 2,500 samples and zero-pads them to 5,000 before the min-max.

``preprocess`` does the PTB-XL branch for any record: leads in the model's order, polyphase
resampling to 500 Hz where a record has another rate (not in the official code), a record
shorter than 10 s zero-padded at its end (as the CPSC branch pads), then the min-max.
Pretraining (``pretrain/preprocess.ipynb``) min-maxed the same way but stored the result as
int16 of ``1000 x`` (steps of 0.001); the linear probe, and this adapter, do not quantise.
In the grid, ``official_window`` puts each 10-s window's leads in MIMIC-IV-ECG's order and
min-maxes it, as the official code does to the record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np
from torch import Tensor

from bench.checkpoints.card import ModelCard, OfficialInput
from bench.checkpoints.method import CheckpointMethod
from bench.data.preprocess import resample
from bench.method import METHODS
from methods.checkpoints._official import MIMIC_LEADS, min_max, select_leads
from methods.checkpoints.vit1d_net import ViT1d, ViT1dConfig, timm_block_keys

RATE = 500
WINDOW = 5000

MERL_VIT_SIZES: dict[str, ViT1dConfig] = {
    "vit_tiny": ViT1dConfig("conv", width=192, depth=12, heads=3, mlp_dim=768, patch_size=50,
                            seq_len=WINDOW),
    "tiny": ViT1dConfig("conv", width=16, depth=2, heads=2, mlp_dim=32, patch_size=50,
                        seq_len=WINDOW),
}  # fmt: skip
"""``vit_tiny``: the released encoder (MERL's own size name); ``tiny``: the conformance
fixture's (2 blocks of width 16)."""

CLIP_PREFIXES = ("proj_e.", "linear1.", "linear2.", "lm_model.", "proj_t.")
"""Keys of the whole ECGCLIP file that are not the ECG encoder's."""

TOKEN_KEYS = {"to_patch_embedding.": "tokens.patch_embed.", "pos_embedding": "tokens.pos"}


@METHODS.register("merl-vit")
class MerlViT(CheckpointMethod):
    """MERL's published ViT-1D (vit_tiny) encoder with its official weights and input."""

    name: ClassVar[str] = "merl-vit"
    card: ClassVar[ModelCard] = ModelCard(
        title="MERL (ViT-1D)",
        paper="Liu et al., Zero-Shot ECG Classification with Multimodal Learning and Test-time "
        "Clinical Knowledge Enhancement, ICML 2024",
        code="https://github.com/cheliu-computation/MERL-ICML2024 (utils/vit1d.py)",
        licence="MIT",
        architecture="ViT-1D tiny: Conv1d patch embedding of all 12 leads (50-sample patches, "
        "100 tokens), 12 blocks of width 192; representation = LayerNorm of the mean token",
        file_name="vit_tiny_best_encoder.pth",
        url="https://drive.google.com/drive/folders/13wb4DppUciMn-Y_qC2JRWTbZdz3xX0w2",
        corpus=("mimic-iv-ecg",),
    )
    official_input: ClassVar[OfficialInput] = OfficialInput(
        rate=RATE,
        leads=MIMIC_LEADS,
        samples=WINDOW,
        resample="poly",
        crop="start",
        scaling="min-max of the whole record, all leads together, to [0, 1]",
    )
    encoder_class = ViT1d
    sizes: ClassVar[Mapping[str, ViT1dConfig]] = MERL_VIT_SIZES
    default_size: ClassVar[str] = "vit_tiny"
    state_dict_keys: ClassVar[tuple[str, ...]] = ("", "model")
    head_pattern: ClassVar[str | None] = r"(^|\.)head\."

    @classmethod
    def convert(cls, official: Mapping[str, Tensor]) -> Mapping[str, Tensor]:
        """Official ``ViT`` keys (or the whole file's ``ecg_encoder.*``) -> ``ViT1d`` keys."""
        if any(key.startswith("ecg_encoder.") for key in official):
            official = {
                key.removeprefix("ecg_encoder."): value
                for key, value in official.items()
                if not key.startswith(CLIP_PREFIXES)
            }
        state: dict[str, Tensor] = {}
        for key, value in official.items():
            for old, new in TOKEN_KEYS.items():
                if key.startswith(old):
                    key = new + key[len(old) :]
                    break
            state[timm_block_keys(key)] = value
        return state

    @classmethod
    def preprocess(cls, raw: np.ndarray, rate: float, leads: tuple[str, ...]) -> np.ndarray:
        """A raw record in mV -> the official input [12 (MIMIC order), 5000] in [0, 1]."""
        x = select_leads(raw, leads, MIMIC_LEADS, cls.name).astype(np.float64)
        if rate != RATE:
            x = resample(x, round(rate), RATE, "poly").astype(np.float64)
        x = x[:, :WINDOW]
        if x.shape[1] < WINDOW:
            x = np.pad(x, ((0, 0), (0, WINDOW - x.shape[1])))
        return min_max(x[None])[0]

    @classmethod
    def official_window(cls, windows: np.ndarray) -> np.ndarray:
        """Grid windows [B, 12 canonical leads, 5000] -> MIMIC lead order, min-maxed."""
        return min_max(super().official_window(windows).astype(np.float64))
