"""ECG-JEPA (Kim, arXiv 2410.08559): the authors' two released encoders, multi-block and random
masking, on the project's patch transformer.

Read from sehunfromdaegu/ECG_JEPA at commit d937ad2c2c8a1e22856ce7e4a23a30f84a71217c (MIT):

- Architecture (``ecg_jepa.py``, ``MaskTransformer``; ``models.py``, ``load_encoder``): 8 leads
  x 50 patches of 50 samples, one ``Linear(50, 768)`` per patch (``W_P``), 12 pre-norm blocks
  (16 heads, no qkv bias, MLP ratio 4, exact GELU, torch LayerNorm eps 1e-5), the fixed 2-D
  sin-cos code (``pos_encoding.get_2d_sincos_pos_embed``: time code first, lead code second,
  float64 rounded once) added before every block, Cross-Pattern Attention (a token attends
  to its own lead and its own time column) and a final LayerNorm. ``representation`` is the
  mean of all 400 final-normed tokens. ``load_encoder`` builds it without stochastic depth
  (pretraining used 0.1). This is ``PatchTransformer`` with ``attention="cropa"``,
  ``pos_every_block``, ``pos_layout="time_lead"`` and ``norm_eps=1e-5``: it gives the
  official ``representation`` within 1e-6 at the published size, dense or sparse CroPA, so
  no architecture is written here. ``features`` is the per-column mean over leads (stride
  50 samples, 0.2 s).
- File (``pretrain_ECG_JEPA.py``): ``{'encoder': MaskTransformer.state_dict(), 'epoch': n}``;
  ``pos_embed`` in it is the fixed code (a non-trainable Parameter), checked here and dropped.
- Input (``ecg_data.py``, ``get_ecg_data`` and ``downsample_waves``; ``waves_ptbxl``): the
  record in physical units (wfdb ``p_signal``, mV) is brought to 500 Hz by
  ``scipy.signal.resample`` (FFT, to ``int(500 / fs * length)`` samples) when it is not at
  500 Hz, its first 5,000 samples (10 s) are kept (shorter records are dropped), leads I, II,
  V1-V6 are taken (rows 0, 1, 6-11), and the 5,000 samples are FFT-resampled to 2,500 (250 Hz).
  No filter and no amplitude scaling for pretraining and the linear evaluation. The official
  fine-tuning script (``downstream_tasks/finetuning.py``) alone adds zero-phase Butterworth
  high-pass 0.67 Hz and low-pass 40 Hz (order 5, ``sosfiltfilt``) at 250 Hz; the benchmark
  feeds both protocols the unfiltered input the encoder was pretrained on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from scipy import signal as sps
from torch import Tensor

from bench.checkpoints.card import ModelCard, OfficialInput
from bench.checkpoints.method import CheckpointMethod
from bench.checkpoints.state_dict import WeightsMismatchError
from bench.data.signals import INDEPENDENT_LEADS
from bench.encoders.base import Encoder
from bench.encoders.patch_transformer import PatchTransformer, PatchTransformerConfig
from bench.encoders.pos_embed import sincos_grid
from bench.errors import DataError
from bench.method import METHODS
from methods.checkpoints._official import select_leads

CODE = "https://github.com/sehunfromdaegu/ECG_JEPA"
PAPER = (
    "Kim S. Learning General Representation of 12-Lead Electrocardiogram With a "
    "Joint-Embedding Predictive Architecture. arXiv:2410.08559 (2024)"
)
ARCHITECTURE = (
    "ViT-B over 8 leads x 50 patches of 50 samples (768-d, 12 blocks, 16 heads), "
    "Cross-Pattern Attention, fixed 2-D sin-cos positions added before every block; "
    "representation: mean of the final-normed tokens"
)
SOURCE_RATE = 500
SOURCE_SAMPLES = 5000
"""The official code brings every record to 500 Hz and keeps its first 10 s before 250 Hz."""
N_PATCHES = 50

ECG_JEPA_BASE = PatchTransformerConfig(
    dim=768, depth=12, heads=16, patch_size=50, qkv_bias=False, drop_path=0.0,
    attention="cropa", pos_every_block=True, pos_layout="time_lead", norm_eps=1e-5,
    depth_scaled_init=True,
)  # fmt: skip
ECG_JEPA_SIZES: dict[str, PatchTransformerConfig] = {
    "base": ECG_JEPA_BASE,
    "tiny": replace(ECG_JEPA_BASE, dim=32, depth=2, heads=4),
}
"""``base``: the released encoders (``load_encoder``); ``tiny``: the conformance fixture's."""

RENAMES: tuple[tuple[str, str], ...] = (
    ("W_P.", "patch_embed."),
    ("encoder_blocks.blocks.", "blocks."),
)
FIXED_KEYS = ("pos_embed",)
"""Official keys that are not parameters here: the fixed position code, checked then dropped."""


class PositionCodeError(ValueError):
    """The file's ``pos_embed`` is not the fixed sin-cos code this encoder computes."""


class ECGJEPACheckpoint(CheckpointMethod):
    """An ECG-JEPA release (``MaskTransformer.representation``), as the official code runs it."""

    official_input: ClassVar[OfficialInput] = OfficialInput(
        rate=250, leads=INDEPENDENT_LEADS, samples=2500, resample="fft", crop="start",
        bandpass=None,
        scaling="none (mV as read; the first 10 s at 500 Hz, FFT-resampled to 250 Hz)",
    )  # fmt: skip
    encoder_class: ClassVar[type[Encoder]] = PatchTransformer
    sizes: ClassVar[Mapping[str, PatchTransformerConfig]] = ECG_JEPA_SIZES
    default_size: ClassVar[str] = "base"
    state_dict_keys: ClassVar[tuple[str, ...]] = ("encoder", "")
    """The release's ``{'encoder': ...}``, or an encoder's state dict saved on its own."""
    head_pattern: ClassVar[str | None] = r"^(fc|head|classifier)\.|\.fc\.(fc|bn)\."
    """``linear_probe_utils.FinetuningClassifier`` keeps its head under ``fc.fc``/``fc.bn``."""

    @classmethod
    def load_official(cls, encoder: Encoder, path: Path) -> None:
        """The base's checked loading, with a position-code mismatch reported against ``path``."""
        try:
            super().load_official(encoder, path)
        except PositionCodeError as error:
            raise WeightsMismatchError(f"{path}: {error}") from error

    @classmethod
    def convert(cls, official: Mapping[str, Tensor]) -> Mapping[str, Tensor]:
        """``W_P`` -> ``patch_embed``, ``encoder_blocks.blocks`` -> ``blocks``; ``pos_embed``
        checked against the code computed here and dropped; other names kept (so that
        ``load_checked`` names any key that belongs to no encoder)."""
        state: dict[str, Tensor] = {}
        for key, value in official.items():
            if key in FIXED_KEYS:
                check_position_code(value)
                continue
            state[renamed(key)] = value
        return state

    @classmethod
    def preprocess(cls, raw: np.ndarray, rate: float, leads: tuple[str, ...]) -> np.ndarray:
        """As ``get_ecg_data`` then ``downsample_waves``: to 500 Hz by FFT when elsewhere, the
        first 5,000 samples, leads I, II, V1-V6, FFT to 2,500 samples; float32, mV.

        DataError when a lead is missing or the record is shorter than 10 s (the official
        code drops such records).
        """
        raw = np.asarray(raw)
        signal = select_leads(raw, leads, cls.official_input.leads, cls.name).astype(np.float64)
        if rate != SOURCE_RATE:
            signal = sps.resample(signal, int((SOURCE_RATE / rate) * signal.shape[-1]), axis=-1)
        if signal.shape[-1] < SOURCE_SAMPLES:
            raise DataError(
                f"{cls.name}: the record lasts {raw.shape[-1] / rate:.2f} s ({raw.shape[-1]} "
                f"samples at {rate:g} Hz); ECG-JEPA's official code keeps only records of at "
                "least 10 s (it drops shorter ones): leave this record out"
            )
        window = signal[:, :SOURCE_SAMPLES]
        return sps.resample(window, cls.official_input.samples, axis=-1).astype(np.float32)


def renamed(key: str) -> str:
    """An official encoder key under this encoder's name."""
    for old, new in RENAMES:
        if key.startswith(old):
            return new + key.removeprefix(old)
    return key


def check_position_code(stored: Tensor) -> None:
    """PositionCodeError unless ``stored`` is the 8-lead x 50-patch code, time half first."""
    leads = len(INDEPENDENT_LEADS)
    dim = stored.shape[-1] if stored.dim() == 2 else 0
    if stored.shape != (leads * N_PATCHES, dim) or dim % 4:
        raise PositionCodeError(
            f"'pos_embed' has shape {tuple(stored.shape)}, not [{leads * N_PATCHES}, dim]: "
            "not an ECG-JEPA encoder of 8 leads x 50 patches"
        )
    expected = sincos_grid(leads, N_PATCHES, dim, layout="time_lead")
    if not torch.allclose(stored.float(), expected, atol=1e-6, rtol=0):
        raise PositionCodeError(
            "'pos_embed' is not the fixed 2-D sin-cos code (learned positions, pos_type "
            "'learnable'?); this adapter loads the released encoders (pos_type 'sincos')"
        )


@METHODS.register("ecg-jepa-multiblock")
class ECGJEPAMultiblock(ECGJEPACheckpoint):
    """ECG-JEPA pretrained with multi-block masking (the paper's best)."""

    name: ClassVar[str] = "ecg-jepa-multiblock"
    card: ClassVar[ModelCard] = ModelCard(
        title="ECG-JEPA (multi-block masking)", paper=PAPER,
        code=f"{CODE} (ecg_jepa.py, models.py)", licence="MIT", architecture=ARCHITECTURE,
        file_name="multiblock_epoch100.pth",
        url="https://drive.google.com/file/d/1gMOT4xjQQg0GZkY1iE6NuDzua4ALw00l/view",
        corpus=("chapman", "ningbo", "code15"),
    )  # fmt: skip


@METHODS.register("ecg-jepa-random")
class ECGJEPARandom(ECGJEPACheckpoint):
    """ECG-JEPA pretrained with random masking."""

    name: ClassVar[str] = "ecg-jepa-random"
    card: ClassVar[ModelCard] = ModelCard(
        title="ECG-JEPA (random masking)", paper=PAPER,
        code=f"{CODE} (ecg_jepa.py, models.py)", licence="MIT", architecture=ARCHITECTURE,
        file_name="random_epoch100.pth",
        url="https://drive.google.com/file/d/1mh-XL0XOvvhFbhvuZ9c2KnTHa9B4F3Wx/view",
        corpus=("chapman", "ningbo", "code15"),
    )  # fmt: skip
