"""ECGFM-KED (Tian et al., Cell Reports Medicine 2024): its xresnet1d101 ECG encoder.

Official code: control-spiderman/ECGFM-KED (commit e42f1de), models/xresnet1d_101.py (the
encoder, built in main_mimiciv.py as ``xresnet1d101(num_classes=105, input_channels=12,
kernel_size=5, ps_head=0.5)``: no head), main_mimiciv.py (the checkpoint: ``{'model': TQN
decoder, 'ecg_model': encoder, 'text_encoder': BERT, 'optimizer', 'lr_scheduler', 'config',
'epoch'}``), test_ptbxl.py (loading: ``checkpoint['ecg_model']``, strict),
dataset/ecgDataset.py (``MimicivDataset``, the pretraining input). The text encoder and the
TQN decoder are not part of this adapter: ``convert`` drops ``model.*``/``text_encoder.*`` keys
when a file stores everything flat (``ecg_model.*`` prefixes are also accepted), and drops
``convpath.*``: fastai's ResBlock registers its conv path twice (``convs`` and
``convpath.0``), so every block's weights are stored twice. A file whose encoder has the
classification head of KED's "ecgNet" variant (module ``8``) is a fine-tuned file: refused.

Official input (``MimicivDataset.__getitem__``): MIMIC-IV-ECG's 10 s, 500 Hz records as
stored (leads I, II, III, aVR, aVF, aVL, V1-V6; values in mV, no filter, no normalisation),
Fourier-resampled (``scipy.signal.resample``) to a fifth of their length (100 Hz, 1,000
samples), NaN set to 0. ``convert`` re-orders the stem's input channels so that this encoder
takes the canonical order (I, II, III, aVR, aVL, aVF, V1-V6) and computes what the official
model computes on MIMIC-IV-ECG's order; ``preprocess`` returns the canonical order. KED's own
downstream scripts differ from its pretraining: they feed PTB-XL's 100 Hz files in PTB-XL's
order (aVL before aVF, not swapped) after a dataset-wide StandardScaler (one mean and std over
the training set); this adapter follows the pretraining input, which the weights were trained
on. The grid's cache expresses it exactly (100 Hz by FFT, no normalisation).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import ClassVar

import numpy as np
from scipy import signal as sps
from torch import Tensor

from bench.checkpoints.card import ModelCard, OfficialInput
from bench.checkpoints.method import CheckpointMethod
from bench.data.signals import CANONICAL_LEADS
from bench.encoders.base import Encoder
from bench.method import METHODS
from methods.checkpoints._official import (
    MIMIC_LEADS,
    canonical_lead_input,
    first_samples,
    select_leads,
)
from methods.checkpoints.ecgfm_ked_net import KED_SIZES, KedXResNet1d

RATE = 100
WINDOW = 1000
OTHER_MODULES = ("model.", "text_encoder.")
STEM = re.compile(r"^([0-2])\.([01])\.(.+)$")
BLOCK = re.compile(r"^(\d+)\.(\d+)\.(convs|convpath|idpath)\.(.+)$")
STEM_WEIGHT = "stem.0.0.weight"


@METHODS.register("ecgfm-ked")
class EcgfmKed(CheckpointMethod):
    """ECGFM-KED's released ECG encoder (MIMIC-IV-ECG, ECG-report-label pretraining)."""

    name = "ecgfm-ked"
    card = ModelCard(
        title="ECGFM-KED",
        paper="Tian et al., Foundation model of ECG diagnosis: Diagnostics and explanations of "
        "any form and rhythm on ECG, Cell Reports Medicine 2024 (doi 10.1016/j.xcrm.2024.101875)",
        code="https://github.com/control-spiderman/ECGFM-KED: models/xresnet1d_101.py",
        licence="no licence stated",
        architecture="xresnet1d101 (fastai 1-D xresnet, blocks [3, 4, 23, 3], kernel 5) with "
        "stage widths 64, 128, 128, 192 (768 output channels), 768-d mean-pooled features",
        file_name="best_valid_all_increase_with_augment_epoch_3.pt",
        url="https://zenodo.org/records/14881564",
        corpus=("mimic-iv-ecg",),
        labelled=("mimic-iv-ecg",),
    )
    official_input = OfficialInput(
        rate=RATE, leads=CANONICAL_LEADS, samples=WINDOW, resample="fft",
        scaling="none (mV)",
    )  # fmt: skip
    encoder_class: ClassVar[type[Encoder]] = KedXResNet1d
    sizes = KED_SIZES
    default_size = "xresnet1d101-ked"
    state_dict_keys = ("ecg_model", "")
    head_pattern = r"^(ecg_model\.)?8\."

    @classmethod
    def convert(cls, official: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Official xresnet keys (``0``-``2`` stem, ``4``-``7`` stages of blocks) -> this
        encoder's (``stem.i``, ``stages.k`` numbering blocks across stages); the duplicate
        ``convpath`` and the text side dropped; the stem takes canonical leads."""
        encoder = {
            key.removeprefix("ecg_model."): value
            for key, value in official.items()
            if not key.startswith(OTHER_MODULES)
        }
        blocks = sorted({(int(m[1]), int(m[2])) for k in encoder if (m := BLOCK.match(k))})
        numbers = {block: k for k, block in enumerate(blocks)}
        converted: dict[str, Tensor] = {}
        for key, value in encoder.items():
            if stem := STEM.match(key):
                key = f"stem.{stem[1]}.{stem[2]}.{stem[3]}"
            elif block := BLOCK.match(key):
                if block[3] == "convpath":
                    continue
                part = "path" if block[3] == "convs" else "shortcut"
                key = f"stages.{numbers[int(block[1]), int(block[2])]}.{part}.{block[4]}"
            converted[key] = value
        if STEM_WEIGHT in converted:
            converted[STEM_WEIGHT] = canonical_lead_input(converted[STEM_WEIGHT], MIMIC_LEADS)
        return converted

    @classmethod
    def preprocess(cls, raw: np.ndarray, rate: float, leads: tuple[str, ...]) -> np.ndarray:
        """MimicivDataset's chain: FFT resampling to 100 Hz (``int(length * 100 / rate)``
        samples), NaN -> 0, the first 10 s -> float32, leads in canonical order."""
        signal = select_leads(raw, leads, CANONICAL_LEADS, cls.name)
        signal = sps.resample(signal, int(signal.shape[-1] * RATE / rate), axis=1)
        signal = np.where(np.isnan(signal), 0.0, signal)
        return first_samples(signal, WINDOW, RATE, cls.name).astype(np.float32)
