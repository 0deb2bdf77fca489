"""ST-MEM (Na et al., ICLR 2024): the published ViT-B/75 encoder, as bakqui/ST-MEM runs it.

Facts from the official repository (commit 69ec70246c01fe32b14dea810af812556c06eab0):

- Weights: the README's "Encoder" Google Drive file (``st_mem_vit_base_encoder.pth``, the name
  its users load; the README gives only the link), written by ``util/misc.py:save_model`` at
  the end of ``main_pretrain.py``: ``{'epoch', 'model':
  ST_MEM_ViT.state_dict(), 'optimizer': None, 'scaler': None, 'config'}``. The "Full" file
  (encoder + decoder) keeps the same weights under ``model['encoder.*']``; ``convert`` accepts
  both and drops the decoder explicitly. ``main_downstream.py`` loads ``checkpoint['model']``
  and adds ``head.*``; a file holding ``head.*`` is a fine-tuned one and is refused.
- Architecture (``models/encoder/st_mem_vit.py``, ``st_mem_vit_base``): width 768, depth 12,
  12 heads of 64, MLP 3,072, 75-sample patches, ``seq_len`` 2,250 (30 patches per lead), 12
  lead embeddings, SEP tokens; the representation is the final LayerNorm of the mean of all
  patch tokens (``forward_encoding``), see ``methods.checkpoints.vit1d_net``.
- Input (``configs/downstream/st_mem.yaml``, ``util/transforms.py``, ``util/dataset.py``,
  ``data/process_ecg.py``): leads I, II, III, aVR, aVL, aVF, V1-V6 (``_LEAD_NAMES``); records
  cut into 10-s pieces stored as float32; each piece resampled to 250 Hz with
  ``scipy.signal.resample`` (FFT) to ``int(n * 250 / fs)`` samples (``Resample``); evaluation
  crops: three 2,250-sample windows at equal steps (``n_crop``, the model's outputs averaged
  over them), training: one random 2,250-sample window; then, on each window, a 5th-order
  Butterworth high-pass at 0.67 Hz and low-pass at 40 Hz, each zero-phase (``sosfiltfilt``),
  and one z-score over the whole window, all leads together (``standardize`` axis (-1, -2)).

``preprocess`` does that for the first evaluation window (start 0; the other two windows and the
averaging are an evaluation protocol, not an input), on the record's first 10-s piece (a record
under 10 s, which ``process_ecg.py`` skips, is used whole if it gives the 9-s window). The grid
gives every method the same windows (``evaluation.stride_s``, scores averaged over them) and
``official_window`` filters and standardises each of them as the official code does.
Licence: the repository's LICENSE is CC BY-NC 4.0; its README adds "(c) VUNO Inc. All rights
reserved" and forbids use outside the licence's scope without VUNO's permission.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np
import torch
from scipy import signal as sps
from torch import Tensor

from bench.checkpoints.card import ModelCard, OfficialInput
from bench.checkpoints.method import CheckpointMethod
from bench.data.signals import CANONICAL_LEADS
from bench.errors import DataError
from bench.method import METHODS
from methods.checkpoints._official import select_leads
from methods.checkpoints.vit1d_net import ViT1d, ViT1dConfig, timm_block_keys

RATE = 250
WINDOW = 2250
PIECE_S = 10  # data/process_ecg.py cuts records into 10-s pieces
HIGHPASS_HZ, LOWPASS_HZ, FILTER_ORDER = 0.67, 40.0, 5

ST_MEM_SIZES: dict[str, ViT1dConfig] = {
    "base": ViT1dConfig("lead", width=768, depth=12, heads=12, mlp_dim=3072, patch_size=75,
                        seq_len=WINDOW),
    "tiny": ViT1dConfig("lead", width=32, depth=2, heads=2, mlp_dim=64, patch_size=75,
                        seq_len=WINDOW),
}  # fmt: skip
"""``base``: the released ViT-B/75; ``tiny``: the conformance fixture's."""

DECODER_PREFIXES = (
    "to_patch_embedding.",  # the full model's alias of encoder.to_patch_embedding
    "to_decoder_embedding.",
    "mask_embedding",
    "decoder_pos_embed",
    "decoder_blocks.",
    "decoder_norm.",
    "decoder_head.",
)
"""Keys of the full (encoder + decoder) file that are not the encoder's."""

TOKEN_KEYS = {
    "to_patch_embedding.1.": "tokens.patch_norm.",
    "to_patch_embedding.2.": "tokens.patch_embed.",
    "to_patch_embedding.3.": "tokens.embed_norm.",
    "pos_embedding": "tokens.pos",
    "sep_embedding": "tokens.sep",
}
"""Official tokeniser keys -> ``LeadTokens``'s (``lead_embeddings.<k>`` are stacked)."""


@METHODS.register("st-mem")
class StMem(CheckpointMethod):
    """ST-MEM's published ViT-B/75 encoder with its official weights and input."""

    name: ClassVar[str] = "st-mem"
    card: ClassVar[ModelCard] = ModelCard(
        title="ST-MEM",
        paper="Na et al., Guiding Masked Representation Learning to Capture Spatio-Temporal "
        "Relationship of Electrocardiogram, ICLR 2024",
        code="https://github.com/bakqui/ST-MEM (models/encoder/st_mem_vit.py)",
        licence="CC BY-NC 4.0 (LICENSE); README: (c) VUNO Inc., all rights reserved, "
        "non-commercial use only",
        architecture="ViT-B/75 over per-lead 75-sample patches (12 leads x 30 patches), learned "
        "lead and SEP embeddings, 12 blocks of width 768; representation = LayerNorm of the "
        "mean patch token",
        file_name="st_mem_vit_base_encoder.pth",
        url="https://drive.google.com/file/d/1E7J-A1HqWa2f08T6Sfk5uWk-_CFJhOYQ/view",
        corpus=("chapman", "ningbo", "code15"),
    )
    official_input: ClassVar[OfficialInput] = OfficialInput(
        rate=RATE,
        leads=CANONICAL_LEADS,
        samples=WINDOW,
        resample="fft",
        crop="start",
        bandpass=(HIGHPASS_HZ, LOWPASS_HZ),
        scaling="z-score of each 9-s window over all 12 leads together",
    )
    encoder_class = ViT1d
    sizes: ClassVar[Mapping[str, ViT1dConfig]] = ST_MEM_SIZES
    default_size: ClassVar[str] = "base"
    state_dict_keys: ClassVar[tuple[str, ...]] = ("model",)
    head_pattern: ClassVar[str | None] = r"(^|\.)head\."

    @classmethod
    def convert(cls, official: Mapping[str, Tensor]) -> Mapping[str, Tensor]:
        """Official encoder keys (or the full file's ``encoder.*``) -> ``ViT1d`` keys; the
        decoder is dropped, the 12 ``lead_embeddings.<k>`` become one [12, width] table."""
        if any(key.startswith("encoder.") for key in official):
            official = {
                key.removeprefix("encoder."): value
                for key, value in official.items()
                if not key.startswith(DECODER_PREFIXES)
            }
        state: dict[str, Tensor] = {}
        leads: dict[int, Tensor] = {}
        for key, value in official.items():
            index = key.removeprefix("lead_embeddings.")
            if index != key and index.isdigit():
                leads[int(index)] = value
                continue
            for old, new in TOKEN_KEYS.items():
                if key.startswith(old):
                    key = new + key[len(old) :]
                    break
            state[timm_block_keys(key)] = value
        if leads:
            state["tokens.lead"] = torch.stack([leads[k] for k in sorted(leads)])
        return state

    @classmethod
    def preprocess(cls, raw: np.ndarray, rate: float, leads: tuple[str, ...]) -> np.ndarray:
        """A raw record in mV -> the first official evaluation window [12, 2250] (float32)."""
        x = select_leads(raw, leads, CANONICAL_LEADS, cls.name).astype(np.float32)
        x = x[:, : round(PIECE_S * rate)]
        if rate != RATE:
            x = sps.resample(x, int(x.shape[1] * RATE / rate), axis=1)
        if x.shape[1] < WINDOW:
            raise DataError(
                f"{cls.name}: the record gives {x.shape[1]} samples at {RATE} Hz; its window "
                f"is {WINDOW} samples ({WINDOW / RATE:g} s): use records of at least 9 s"
            )
        return cls.official_window(x[None, :, :WINDOW])[0]

    @classmethod
    def official_window(cls, windows: np.ndarray) -> np.ndarray:
        """Each 9-s window [B, 12, 2250] high- and low-passed (5th order, zero-phase), then
        z-scored over all its leads together (float32)."""
        x = np.asarray(windows, dtype=np.float64)
        for cutoff, kind in ((HIGHPASS_HZ, "highpass"), (LOWPASS_HZ, "lowpass")):
            sos = sps.butter(FILTER_ORDER, cutoff, btype=kind, fs=RATE, output="sos")
            x = sps.sosfiltfilt(sos, x, axis=-1)
        mean = x.mean(axis=(1, 2), keepdims=True)
        std = x.std(axis=(1, 2), keepdims=True)
        scaled = np.divide(x - mean, std, out=np.zeros_like(x), where=std != 0)
        return scaled.astype(np.float32)
