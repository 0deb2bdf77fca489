"""ECGFounder (Li et al., NEJM AI 2025): Net1D trained on the Harvard-Emory ECG Database labels.

Official code: PKUDigitalHealth/ECGFounder (commit 04edac7), net1d.py (the network),
finetune_model.py (how the released files are loaded: ``Net1D(..., use_bn=False,
use_do=False)``, ``checkpoint['state_dict']``, keys ``dense.*`` dropped before fine-tuning),
dataset.py and util.py (the preprocessing the README says must be followed strictly).

The released files (Hugging Face ``PKUDigitalHealth/ECGFounder``: ``12_lead_ECGFounder.pth``
and ``1_lead_ECGFounder.pth``) are supervised models: a ``{'state_dict': ...}`` whose
``dense.*`` is the trained 150-label HEEDB classifier. ``convert`` drops it explicitly (the
representation is the pooled features before it, as the official fine-tune/linear code uses)
and drops the batch-norm keys (``first_bn``, ``bn1``-``bn3``): the official code builds those
modules but never applies them (``use_bn=False``). A ``module.`` prefix is stripped when
present. A file whose ``dense`` has other than 150 outputs is a fine-tuned file and is refused.

Official input (dataset.py ``LVEF_12lead_*``/``LVEF_1lead_*`` and util.py ``filter_bandpass``):
500 Hz, 10 s (5,000 samples), leads I, II, III, aVR, aVL, aVF, V1-V6 (MIMIC-IV-ECG's stored
aVF/aVL are swapped back into this, HEEDB's, order) or lead I alone; NaN set to 0; a 50 Hz
notch (Q 30) and a 4th-order 0.67-40 Hz Butterworth band-pass, both zero-phase (``filtfilt``),
then a 0.4 s (201-sample) median filter's baseline subtracted; then ONE z-score over the whole
record, all leads together (``(x - mean) / (std + 1e-8)``). dataset.py does not resample (its
data are 500 Hz); for other rates ``preprocess`` uses the official ptbxl_eval.py's
``resample_unequal`` (linear interpolation over the record's duration), before filtering.

In the grid, ``official_window`` filters and z-scores each 10-s window the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

import numpy as np
from scipy import signal as sps
from torch import Tensor

from bench.checkpoints.card import ModelCard, OfficialInput
from bench.checkpoints.method import CheckpointMethod
from bench.checkpoints.state_dict import load_checked, read_weights, strip_prefix, unwrap
from bench.data.preprocess import linear_resample
from bench.data.signals import CANONICAL_LEADS
from bench.encoders.base import Encoder
from bench.method import METHODS
from methods.checkpoints._official import first_samples, refuse_retrained_head, select_leads
from methods.checkpoints.ecgfounder_net import NET1D_SIZES, Net1D

RATE = 500
WINDOW = 5000
RELEASED_LABELS = 150
DROPPED = re.compile(r"^dense\.|^first_bn\.|\.bn[123]\.")
RENAMES = (
    (re.compile(r"^first_conv\.conv\."), "stem."),
    (re.compile(r"^stage_list\.(\d+)\.block_list\.(\d+)\.conv1\.conv\."), r"stages.\1.\2.expand."),
    (re.compile(r"^stage_list\.(\d+)\.block_list\.(\d+)\.conv2\.conv\."), r"stages.\1.\2.spatial."),
    (re.compile(r"^stage_list\.(\d+)\.block_list\.(\d+)\.conv3\.conv\."), r"stages.\1.\2.project."),
    (re.compile(r"^stage_list\.(\d+)\.block_list\.(\d+)\.se_fc1\."), r"stages.\1.\2.se_squeeze."),
    (re.compile(r"^stage_list\.(\d+)\.block_list\.(\d+)\.se_fc2\."), r"stages.\1.\2.se_excite."),
)
ARCHITECTURE = (
    "Net1D: 1-D CNN, a stride-2 stem and 7 stages of pre-activation bottleneck blocks with "
    "squeeze-and-excitation (64 -> 1024 filters, kernel 16, grouped convolutions of width 16, "
    "Swish); 1024-d features, the mean over time (its 150-label classifier is dropped)"
)
SCALING = (
    "50 Hz notch, 0.67-40 Hz band-pass, 0.4 s median baseline removed, one z-score over the "
    "whole record (all leads together)"
)


def founder_card(title: str, file_name: str) -> ModelCard:
    """The card of one released ECGFounder file."""
    return ModelCard(
        title=title,
        paper="Li et al., An Electrocardiogram Foundation Model Built on over 10 Million "
        "Recordings, NEJM AI 2025 (arXiv 2410.04133)",
        code="https://github.com/PKUDigitalHealth/ECGFounder: net1d.py, finetune_model.py",
        licence="MIT",
        architecture=ARCHITECTURE,
        file_name=file_name,
        url="https://huggingface.co/PKUDigitalHealth/ECGFounder/tree/main",
        corpus=("hedb",),
        labelled=("hedb",),
        hf_repo="PKUDigitalHealth/ECGFounder",
        hf_filename=file_name,
    )


def official_filter(signal: np.ndarray, rate: float) -> np.ndarray:
    """util.filter_bandpass: zero-phase 50 Hz notch (Q 30), zero-phase 4th-order 0.67-40 Hz
    Butterworth, minus a median filter of 0.4 s (odd length) as the baseline."""
    b, a = sps.iirnotch(50, 30, rate)
    filtered = sps.filtfilt(b, a, signal, axis=-1)
    b, a = sps.butter(N=4, Wn=[0.67, 40], btype="bandpass", fs=rate)
    filtered = sps.filtfilt(b, a, filtered, axis=-1)
    kernel = int(0.4 * rate) + 1
    kernel += 1 - kernel % 2
    baseline = np.stack([sps.medfilt(lead, kernel_size=kernel) for lead in filtered])
    return filtered - baseline


@METHODS.register("ecgfounder-12lead")
class ECGFounder12Lead(CheckpointMethod):
    """ECGFounder's released 12-lead Net1D (HEEDB, 150 labels; the single-lead one below)."""

    name = "ecgfounder-12lead"
    card = founder_card("ECGFounder (12-lead)", "12_lead_ECGFounder.pth")
    official_input = OfficialInput(
        rate=RATE, leads=CANONICAL_LEADS, samples=WINDOW, resample="linear",
        bandpass=(0.67, 40.0), scaling=SCALING,
    )  # fmt: skip
    encoder_class: ClassVar[type[Encoder]] = Net1D
    sizes = NET1D_SIZES
    default_size = "net1d"
    state_dict_keys = ("state_dict",)

    @classmethod
    def load_official(cls, encoder: Encoder, path: Path) -> None:
        """Load the released file (``module.`` stripped; a fine-tuned file, whose ``dense`` was
        replaced, refused)."""
        state = strip_prefix(unwrap(read_weights(path), cls.state_dict_keys, path), "module.")
        refuse_retrained_head(state, "dense.weight", RELEASED_LABELS, path, cls.card.title)
        load_checked(encoder, cls.convert(state), path)

    @classmethod
    def convert(cls, official: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Official Net1D keys -> this Net1D's; the classifier and the unused BN dropped."""
        converted: dict[str, Tensor] = {}
        for key, value in official.items():
            if DROPPED.search(key):
                continue
            for pattern, replacement in RENAMES:
                key = pattern.sub(replacement, key)
            converted[key] = value
        return converted

    @classmethod
    def preprocess(cls, raw: np.ndarray, rate: float, leads: tuple[str, ...]) -> np.ndarray:
        """dataset.py's chain: leads in model order, NaN -> 0, (linear resampling to 500 Hz),
        the first 10 s, util.filter_bandpass, one z-score over the record -> float32."""
        signal = np.nan_to_num(select_leads(raw, leads, cls.official_input.leads, cls.name))
        if rate != RATE:
            signal = linear_resample(signal, rate, RATE)
        return cls.steps(first_samples(signal, WINDOW, RATE, cls.name)[None])[0]

    @classmethod
    def official_window(cls, windows: np.ndarray) -> np.ndarray:
        """Grid windows [B, grid leads, 5000] -> the model's leads, filtered and z-scored."""
        return cls.steps(np.nan_to_num(super().official_window(windows)))

    @staticmethod
    def steps(windows: np.ndarray) -> np.ndarray:
        """util.filter_bandpass, then one z-score over each window's leads together."""
        filtered = np.stack([official_filter(window, RATE) for window in windows])
        mean = filtered.mean(axis=(1, 2), keepdims=True)
        std = filtered.std(axis=(1, 2), keepdims=True)
        return ((filtered - mean) / (std + 1e-8)).astype(np.float32)


@METHODS.register("ecgfounder-1lead")
class ECGFounder1Lead(ECGFounder12Lead):
    """ECGFounder's released single-lead Net1D: lead I (dataset.py ``LVEF_1lead_*``)."""

    name = "ecgfounder-1lead"
    card = founder_card("ECGFounder (single-lead)", "1_lead_ECGFounder.pth")
    official_input = OfficialInput(
        rate=RATE, leads=("I",), samples=WINDOW, resample="linear", bandpass=(0.67, 40.0),
        scaling=SCALING,
    )  # fmt: skip
