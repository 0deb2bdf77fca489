"""MERL (Liu et al., ICML 2024), its ResNet18-1D ECG encoder trained against report text.

Official code: cheliu-computation/MERL-ICML2024 (commit 38799b7), utils/resnet1d.py (the
encoder as pretrained), utils/utils_trainer.py (the encoder file is
``torch.save(model.ecg_encoder.state_dict())``: a plain state dict), finetune/main_single.py
(linear probing: ``ResNet18(num_classes)``, ``load_state_dict(ckpt, strict=False)``, average
pooling then ``linear``), finetune/finetune_dataset.py (the downstream input).

The released encoder file (Google Drive folder of the README; ``res18_best_encoder.pth``, the
name other benchmarks use for it) is the plain state dict of utils/resnet1d.py's ``ResNet``,
whose constructor also builds ``linear`` (10 outputs, its default ``num_classes``) that
pretraining never uses. ``convert`` drops ``linear.*`` explicitly; a file whose ``linear`` has
other than 10 outputs was trained for a label set (fine-tuned) and is refused.

Official input (finetune_dataset.py, as for PTB-XL's 500 Hz records): the first 5,000 samples
(10 s at 500 Hz; records shorter are zero-padded at the end, its CPSC 2018 rule), min-max
scaling of the whole record to [0, 1] (one min and max over all leads, ``+ 1e-8``), then aVL
and aVF swapped into MIMIC-IV-ECG's order (I, II, III, aVR, aVF, aVL, V1-V6), the order of the
pretraining data. The pretraining input (pretrain/preprocess.ipynb) is the same: MIMIC-IV-ECG
at 500 Hz, first 5,000 samples, whole-record min-max. No filter, no resampling: the official
code reads 500 Hz records only; for other rates ``preprocess`` resamples polyphase (this
adapter's choice, as the grid). ``convert`` re-orders the stem's input channels so that this
encoder takes the canonical order (I, II, III, aVR, aVL, aVF, V1-V6) and computes exactly what
the official model computes on the swapped record; ``preprocess`` returns the canonical order.

The grid's dataset cache cannot express the amplitude step: neither "none" nor "record"
(per-lead z-score) is a whole-record min-max; ``official_input`` says "none" (mV, the nearest
scale) and ``preprocess`` is the exact official chain.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

import numpy as np
from torch import Tensor

from bench.checkpoints.card import ModelCard, OfficialInput
from bench.checkpoints.method import CheckpointMethod
from bench.checkpoints.state_dict import load_checked, read_weights, unwrap
from bench.data.preprocess import resample
from bench.data.signals import CANONICAL_LEADS
from bench.encoders.base import Encoder
from bench.method import METHODS
from methods.checkpoints._official import (
    MIMIC_LEADS,
    canonical_lead_input,
    min_max,
    refuse_retrained_head,
    select_leads,
)
from methods.checkpoints.merl_resnet_net import RESNET1D_SIZES, MerlResNet1d

RATE = 500
WINDOW = 5000
UNTRAINED_HEAD_OUTPUTS = 10
RENAMES = (
    (re.compile(r"^conv1\."), "stem.0."),
    (re.compile(r"^bn1\."), "stem.1."),
    (re.compile(r"^layer(\d)\.(\d+)\.bn([12])\."), r"layer\1.\2.norm\3."),
    (re.compile(r"^layer(\d)\."), lambda m: f"stages.{int(m.group(1)) - 1}."),
)


@METHODS.register("merl-resnet18")
class MerlResNet18(CheckpointMethod):
    """MERL's released ResNet18-1D ECG encoder (MIMIC-IV-ECG, ECG-report pretraining)."""

    name = "merl-resnet18"
    card = ModelCard(
        title="MERL ResNet18-1D",
        paper="Liu et al., Zero-Shot ECG Classification with Multimodal Learning and Test-time "
        "Clinical Knowledge Enhancement, ICML 2024 (arXiv 2403.06659)",
        code="https://github.com/cheliu-computation/MERL-ICML2024: utils/resnet1d.py",
        licence="MIT",
        architecture="ResNet18-1D: kernel-7 stride-2 stem, four stages of two basic blocks "
        "(64, 128, 256, 512 channels, kernel 3), 512-d average-pooled features",
        file_name="res18_best_encoder.pth",
        url="https://drive.google.com/drive/folders/13wb4DppUciMn-Y_qC2JRWTbZdz3xX0w2",
        corpus=("mimic-iv-ecg",),
    )
    official_input = OfficialInput(
        rate=RATE, leads=CANONICAL_LEADS, samples=WINDOW,
        scaling="min-max of the whole record (all leads together) to [0, 1]",
    )  # fmt: skip
    encoder_class: ClassVar[type[Encoder]] = MerlResNet1d
    sizes = RESNET1D_SIZES
    default_size = "resnet18"
    state_dict_keys = ("",)

    @classmethod
    def load_official(cls, encoder: Encoder, path: Path) -> None:
        """Load the released encoder file (a fine-tuned one, whose ``linear`` was trained for
        a label set, refused)."""
        state = unwrap(read_weights(path), cls.state_dict_keys, path)
        refuse_retrained_head(state, "linear.weight", UNTRAINED_HEAD_OUTPUTS, path, cls.card.title)
        load_checked(encoder, cls.convert(state), path)

    @classmethod
    def convert(cls, official: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Official ResNet keys -> this encoder's; the unused ``linear`` dropped; the stem takes
        the canonical lead order instead of MIMIC-IV-ECG's."""
        converted: dict[str, Tensor] = {}
        for key, value in official.items():
            if key.startswith("linear."):
                continue
            for pattern, replacement in RENAMES:
                key = pattern.sub(replacement, key)
            converted[key] = value
        if "stem.0.weight" in converted:
            converted["stem.0.weight"] = canonical_lead_input(
                converted["stem.0.weight"], MIMIC_LEADS
            )
        return converted

    @classmethod
    def preprocess(cls, raw: np.ndarray, rate: float, leads: tuple[str, ...]) -> np.ndarray:
        """finetune_dataset.py's chain: the first 10 s (zero-padded when shorter), min-max of
        the whole record -> float32, leads in canonical order (see the module docstring)."""
        signal = select_leads(raw, leads, CANONICAL_LEADS, cls.name)
        if rate != RATE:
            signal = resample(signal, round(rate), RATE, "poly").astype(np.float64)
        signal = signal[:, :WINDOW]
        signal = np.pad(signal, ((0, 0), (0, WINDOW - signal.shape[-1])))
        return min_max(signal[None])[0]

    @classmethod
    def official_window(cls, windows: np.ndarray) -> np.ndarray:
        """Each grid window [B, 12, 5000] min-maxed as the official code does the record."""
        return min_max(np.asarray(windows, dtype=np.float64))
