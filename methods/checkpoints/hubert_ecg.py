"""HuBERT-ECG (Coppola et al., medRxiv 2024.11.14.24317328): the three released pretrained sizes.

Read from Edoar-do/HuBERT-ECG at commit affe1f94d06d61a346fa7520be441af5642616b4 (CC BY-NC 4.0):

- Network (``code/hubert_ecg.py``, ``HuBERTECG``; sizes and conv front end in ``pretrain.py``):
  ``transformers.HubertModel`` plus pretraining heads; see ``hubert_ecg_net``. Representation
  (``hubert_ecg_classification.py``, ``HuBERTForECGClassification.forward``): the mean of
  ``last_hidden_state`` over tokens (no attention mask).
- Files: the Hugging Face repositories ``Edoardo-BS/hubert-ecg-{small,base,large}`` (the
  README's ``AutoModel.from_pretrained``), ``config.json`` + ``model.safetensors`` written by
  ``save_pretrained``: a plain state dict under ``HubertModel``'s names plus ``final_proj.*``,
  ``label_embedding.*`` (the pretraining codebook projection and embeddings) and
  ``masked_spec_embed``, dropped here. The position conv's weight norm is stored as
  ``parametrizations.weight.original0/1`` (or ``weight_g``/``weight_v`` by older
  transformers); both load. When a ``config.json`` of the model sits beside the weights (the
  hub's layout), its architecture fields are checked against the size asked for. The three
  files share one name, so in ``$BENCH_WEIGHTS_DIR`` each is saved as
  ``hubert-ecg-<size>.safetensors``. Fine-tuned files (``HuBERTForECGClassification``:
  ``classifier.*`` or ``label_embedding.weight``) are refused.
- Input: ``hubert_ecg_input`` (12 leads, FIR 0.05-47 Hz, 500 Hz, min-max [-1, 1] per lead,
  first 5 s, decimated to 100 Hz over the concatenated leads: 12 x 500). In the grid the
  cache holds the records at 500 Hz (FFT) and ``official_window`` filters, min-maxes and
  decimates each 5-s window; two differences remain for records that are not one window at
  500 Hz: the official code filters at the record's own rate before resampling, and min-maxes
  the whole record before cropping (the grid scales each window).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from torch import Tensor

from bench.checkpoints.card import ModelCard, OfficialInput
from bench.checkpoints.method import CheckpointMethod
from bench.checkpoints.state_dict import WeightsMismatchError
from bench.encoders.base import Encoder
from bench.method import METHODS
from methods.checkpoints.hubert_ecg_input import (
    BAND,
    MODEL_LEADS,
    STORED_RATE,
    official_input,
    window_input,
)
from methods.checkpoints.hubert_ecg_net import HUBERT_ECG_SIZES, HuBERTECGNet

CODE = "https://github.com/Edoar-do/HuBERT-ECG"
PAPER = (
    "Coppola E, Savardi M, Massussi M, Adamo M, Metra M, Signoroni A. HuBERT-ECG as a "
    "self-supervised foundation model for broad and scalable cardiac applications. medRxiv "
    "2024.11.14.24317328 (2024)"
)
CORPUS = (
    "code", "mimic-iv-ecg", "ningbo", "sph", "ptbxl", "hefei", "chapman", "georgia", "cpsc2018",
    "cpsc-extra", "samitrop", "ptb",
)  # fmt: skip
"""The 12 sources of the paper's 9.1 M pretraining ECGs (Fig. 1; the repository's
``figures/metadata/*.json``: their record counts sum to 9,141,072), from Brazil, China,
Germany and the USA."""

PRETRAINING_HEADS = ("final_proj.", "label_embedding.", "masked_spec_embed")
"""Official keys outside the encoder: the codebook projection, its embeddings, the mask vector."""
WEIGHT_NORM = {".weight_g": ".parametrizations.weight.original0",
               ".weight_v": ".parametrizations.weight.original1"}  # fmt: skip


class HuBERTECGCheckpoint(CheckpointMethod):
    """A HuBERT-ECG pretrained release (mean of ``HubertModel``'s last hidden states)."""

    official_input: ClassVar[OfficialInput] = OfficialInput(
        rate=100, leads=MODEL_LEADS, samples=500, resample="fft", crop="start", bandpass=BAND,
        scaling="min-max to [-1, 1] per lead", grid_rate=STORED_RATE,
    )  # fmt: skip
    encoder_class: ClassVar[type[Encoder]] = HuBERTECGNet
    sizes: ClassVar[Mapping[str, Any]] = HUBERT_ECG_SIZES
    state_dict_keys: ClassVar[tuple[str, ...]] = ("",)
    head_pattern: ClassVar[str | None] = r"^(hubert_ecg\.)?(classifier\.|label_embedding\.weight$)"

    @classmethod
    def load_official(cls, encoder: Encoder, path: Path) -> None:
        """The released ``config.json`` beside ``path`` (when there) checked, then the weights."""
        check_released_config(path, encoder.config.architecture())
        super().load_official(encoder, path)

    @classmethod
    def convert(cls, official: Mapping[str, Tensor]) -> Mapping[str, Tensor]:
        """Pretraining heads dropped; weight norm under torch's parametrization names; every
        other key under ``hubert.`` (unknown keys kept, so ``load_checked`` names them)."""
        state: dict[str, Tensor] = {}
        for key, value in official.items():
            if key.startswith(PRETRAINING_HEADS):
                continue
            for old, new in WEIGHT_NORM.items():
                key = key.removesuffix(old) + new if key.endswith(old) else key
            state["hubert." + key] = value
        return state

    @classmethod
    def preprocess(cls, raw: np.ndarray, rate: float, leads: tuple[str, ...]) -> np.ndarray:
        """The official pipeline (``hubert_ecg_input``): [12, 500] float32 at 100 Hz."""
        return official_input(raw, rate, leads, cls.name)

    @classmethod
    def official_window(cls, windows: np.ndarray) -> np.ndarray:
        """Grid windows [B, 12, 2500] at 500 Hz -> each filtered, min-maxed per lead and
        decimated over its concatenated leads: [B, 12, 500] (``hubert_ecg_input``)."""
        return np.stack([window_input(w, STORED_RATE, cls.name) for w in windows])


def check_released_config(weights: Path, architecture: Mapping[str, Any]) -> None:
    """WeightsMismatchError when a HuBERT(-ECG) ``config.json`` beside ``weights`` describes
    another architecture than ``architecture`` (fields it omits take the defaults)."""
    path = weights.parent / "config.json"
    if not path.is_file():
        return
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise WeightsMismatchError(f"{path}: unreadable ({error})") from error
    if stored.get("model_type") not in ("hubert", "hubert_ecg"):
        return
    differences = [
        f"{key} {stored[key]!r} != {value!r}"
        for key, value in architecture.items()
        if key in stored and stored[key] != value
    ]
    if differences:
        raise WeightsMismatchError(
            f"{path}: the released configuration is not this size's architecture (is it the "
            f"right model and size?): {'; '.join(differences)}"
        )


def release(size: str) -> ModelCard:
    """The card of the pretrained ``size`` (small, base or large)."""
    layers = HUBERT_ECG_SIZES[size]
    repo = f"Edoardo-BS/hubert-ecg-{size}"
    return ModelCard(
        title=f"HuBERT-ECG {size.upper()}", paper=PAPER,
        code=f"{CODE} (code/hubert_ecg.py, hubert_ecg_classification.py, utils.py, dataset.py)",
        licence="CC BY-NC 4.0",
        architecture=(
            f"HuBERT (transformers HubertModel): 5 conv layers (stride 64) over the 12 leads "
            f"concatenated (6,000 samples -> 93 tokens), {layers.depth} post-LN blocks of "
            f"{layers.hidden} ({layers.heads} heads, MLP {layers.mlp}), conv positions; "
            "representation: mean of the last hidden states"
        ),
        file_name=f"hubert-ecg-{size}.safetensors",
        url=f"https://huggingface.co/{repo}/resolve/main/model.safetensors",
        corpus=CORPUS, hf_repo=repo, hf_filename="model.safetensors",
    )  # fmt: skip


@METHODS.register("hubert-ecg-small")
class HuBERTECGSmall(HuBERTECGCheckpoint):
    """HuBERT-ECG SMALL: 8 blocks of 512 (30 M parameters)."""

    name: ClassVar[str] = "hubert-ecg-small"
    card: ClassVar[ModelCard] = release("small")
    default_size: ClassVar[str] = "small"


@METHODS.register("hubert-ecg-base")
class HuBERTECGBase(HuBERTECGCheckpoint):
    """HuBERT-ECG BASE: 12 blocks of 768 (93 M parameters)."""

    name: ClassVar[str] = "hubert-ecg-base"
    card: ClassVar[ModelCard] = release("base")
    default_size: ClassVar[str] = "base"


@METHODS.register("hubert-ecg-large")
class HuBERTECGLarge(HuBERTECGCheckpoint):
    """HuBERT-ECG LARGE: 16 blocks of 960 (189 M parameters)."""

    name: ClassVar[str] = "hubert-ecg-large"
    card: ClassVar[ModelCard] = release("large")
    default_size: ClassVar[str] = "large"
