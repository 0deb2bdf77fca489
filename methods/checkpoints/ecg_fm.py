"""ECG-FM (McKeen et al., arXiv 2408.05178, 2024): the released pretrained wav2vec 2.0 encoder.

Facts from bowang-lab/ECG-FM (commit 9cc0d3fb17b95487736fc2db7f5d2ddc4f87356a, MIT) and the
fairseq-signals code it runs (Jwoo5/fairseq-signals, commit
6b9e1375bbe6bc2e55ff4d9b95eabe8eee3adec7, MIT):

- Weights: the README's Hugging Face repository ``wanglab/ecg-fm``, file
  ``mimic_iv_ecg_physionet_pretrained.pt`` (pretrained on MIMIC-IV-ECG v1.0 and PhysioNet 2021
  v1.0.3 with W2V+CMSC+RLM), a fairseq-signals checkpoint (``Trainer.state_dict``: ``cfg``,
  ``model``, ``optimizer_history``, ``extra_state``, ...; read with ``trusted_pickle`` since
  fairseq files may pickle more than tensors). ``model`` is the ``wav2vec2_cmsc`` state dict;
  its pretraining modules (``mask_emb``, ``quantizer``, ``project_q``, ``final_proj``,
  ``target_glu``, ``input_quantizer``, ``project_inp``) are dropped, as
  ``remove_pretraining_modules`` does. ``mimic_iv_ecg_finetuned.pt`` (an
  ``ecg_transformer_classifier``: ``encoder.*`` plus the head ``proj.*``) is refused.
- Network: ``methods.checkpoints.ecg_fm_net`` (``models/ecg_transformer.py``,
  ``models/wav2vec2/``, ``modules/``); the representation is the classifier's pooling.
- Input (``scripts/preprocess/ecg/preprocess.py``, defaults of its pipeline, which the README
  names as ECG-FM's data preparation; ``w2v_cmsc_rlm.yaml``: ``normalize: false``, so nothing
  more at load time): leads re-ordered to I, II, III, aVR, aVL, aVF, V1-V6
  (``reorder_leads``); the record resampled to 500 Hz by linear interpolation to
  ``int(n * 500 / fs)`` samples spanning the record (``resample``); each lead z-scored over
  the whole record (population std; a constant lead becomes 0: ``lead_std_divide``,
  ``constant_lead_strategy`` "zero"); then cut into non-overlapping 5-s pieces of 2,500 samples
  (``segment_mat``; the rest dropped, a record under 5 s gives none). ``preprocess`` returns the
  first piece. No filter.

In the grid the cache resamples each record linearly to 500 Hz (to ``round`` rather than
``int`` samples, one sample apart at most) and z-scores each lead over the whole record
(``record_zscore``), before the grid cuts its 5-s windows, as the official code does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np
import torch
from torch import Tensor

from bench.checkpoints.card import ModelCard, OfficialInput
from bench.checkpoints.method import CheckpointMethod
from bench.data.signals import CANONICAL_LEADS
from bench.encoders.base import Encoder
from bench.method import METHODS
from methods.checkpoints._official import first_samples, select_leads
from methods.checkpoints.ecg_fm_net import ECG_FM_SIZES, EcgFmEncoder

RATE = 500
WINDOW = 2500  # segment_seconds 5 at 500 Hz

PRETRAINING_MODULES = (
    "mask_emb", "quantizer.", "input_quantizer.", "project_q.", "project_inp.", "final_proj.",
    "target_glu.",
)  # fmt: skip
"""``wav2vec2_cmsc`` keys outside the encoder (``remove_pretraining_modules`` and the mask)."""

RENAMES = (
    ("feature_extractor.conv_layers.0.2.", "conv.0.1."),  # the first block's GroupNorm
    ("feature_extractor.conv_layers.", "conv."),
    ("layer_norm.", "frame_norm."),
    ("post_extract_proj.", "project."),
    ("conv_pos.pos_conv.0.", "positions.conv."),
    ("encoder.layer_norm.", "norm."),
    ("encoder.layers.", "layers."),
)
"""Official key prefixes -> ``Wav2Vec2Encoder``'s, the first that matches applies."""

LAYER_RENAMES = (
    (".self_attn.out_proj.", ".attention.out_proj."),
    (".self_attn_layer_norm.", ".attention_norm."),
    (".final_layer_norm.", ".final_norm."),
)
WEIGHT_NORM = {".weight_g": ".parametrizations.weight.original0",
               ".weight_v": ".parametrizations.weight.original1"}  # fmt: skip
"""Older torch's weight-norm names -> the parametrization's (fairseq-signals uses the latter)."""


def rename(key: str) -> str:
    """One official encoder key under ``Wav2Vec2Encoder``'s name (q/k/v are merged apart)."""
    for old, new in RENAMES:
        if key.startswith(old):
            key = new + key.removeprefix(old)
            break
    for old, new in LAYER_RENAMES:
        key = key.replace(old, new)
    for old, new in WEIGHT_NORM.items():
        key = key.removesuffix(old) + new if key.endswith(old) else key
    return key


@METHODS.register("ecg-fm")
class EcgFm(CheckpointMethod):
    """ECG-FM's released pretrained encoder with its official weights and input."""

    name: ClassVar[str] = "ecg-fm"
    card: ClassVar[ModelCard] = ModelCard(
        title="ECG-FM",
        paper="McKeen K, Masood S, Toma A, Rubin B, Wang B. ECG-FM: an open electrocardiogram "
        "foundation model. arXiv 2408.05178 (2024)",
        code="https://github.com/bowang-lab/ECG-FM with https://github.com/Jwoo5/fairseq-signals "
        "(fairseq_signals/models/wav2vec2/, models/ecg_transformer.py, "
        "scripts/preprocess/ecg/preprocess.py)",
        licence="MIT (bowang-lab/ECG-FM and fairseq-signals LICENSE files)",
        architecture="wav2vec 2.0 (fairseq-signals): 4 bias-free convs (256, kernel 2, stride 2; "
        "GroupNorm in the first) -> 768, conv relative positions (kernel 128, 16 groups), 12 "
        "post-LN blocks of 768 (12 heads, FFN 3,072); representation: mean of the outputs "
        "over time (nonzero steps); the release counts 90.9 M with its pretraining heads",
        file_name="mimic_iv_ecg_physionet_pretrained.pt",
        url="https://huggingface.co/wanglab/ecg-fm/resolve/main/mimic_iv_ecg_physionet_pretrained.pt",
        corpus=("mimic-iv-ecg", "cinc2021"),
        hf_repo="wanglab/ecg-fm",
        hf_filename="mimic_iv_ecg_physionet_pretrained.pt",
    )
    official_input: ClassVar[OfficialInput] = OfficialInput(
        rate=RATE, leads=CANONICAL_LEADS, samples=WINDOW, resample="linear", crop="start",
        scaling="per-lead z-score of the record (constant leads 0)", record_zscore=True,
    )  # fmt: skip
    encoder_class: ClassVar[type[Encoder]] = EcgFmEncoder
    sizes: ClassVar[Mapping[str, object]] = ECG_FM_SIZES
    default_size: ClassVar[str] = "base"
    state_dict_keys: ClassVar[tuple[str, ...]] = ("model",)
    head_pattern: ClassVar[str | None] = r"^proj\."
    trusted_pickle: ClassVar[bool] = True

    @classmethod
    def convert(cls, official: Mapping[str, Tensor]) -> Mapping[str, Tensor]:
        """Pretraining modules dropped; keys renamed; each layer's q, k and v projections
        stacked into ``nn.MultiheadAttention``'s ``in_proj`` (q, k, v order)."""
        state: dict[str, Tensor] = {}
        projections: dict[str, dict[str, tuple[str, Tensor]]] = {}
        for key, value in official.items():
            if key.startswith(PRETRAINING_MODULES):
                continue
            layer, _, tail = key.rpartition(".self_attn.")
            if tail[:7] in ("q_proj.", "k_proj.", "v_proj."):
                merged = f"{rename(layer)}.attention.in_proj_{tail[7:]}"
                projections.setdefault(merged, {})[tail[0]] = (key, value)
                continue
            state[rename(key)] = value
        for merged, parts in projections.items():
            if set(parts) == {"q", "k", "v"}:
                state[merged] = torch.cat([parts[p][1] for p in "qkv"])
            else:  # incomplete: kept as they are, so that ``load_checked`` names them
                state.update(parts.values())
        return state

    @classmethod
    def preprocess(cls, raw: np.ndarray, rate: float, leads: tuple[str, ...]) -> np.ndarray:
        """A raw record in mV -> its first official 5-s piece [12, 2500] (float32)."""
        x = select_leads(raw, leads, CANONICAL_LEADS, cls.name)
        if rate != RATE:
            size = int(x.shape[1] * (RATE / rate))
            positions = np.linspace(0, size - 1, x.shape[1])
            x = np.stack([np.interp(np.arange(size), positions, lead) for lead in x])
        return first_samples(standardize(x), WINDOW, RATE, cls.name).astype(np.float32)


def standardize(x: np.ndarray) -> np.ndarray:
    """Per lead (last axis): minus the mean, over the population std; a constant lead -> 0."""
    centred = x - x.mean(axis=-1, keepdims=True)
    std = centred.std(axis=-1, keepdims=True)
    return np.divide(centred, std, out=np.zeros_like(centred), where=std != 0)
