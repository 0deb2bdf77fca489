"""ECG-FM's encoder: the project's fairseq-signals wav2vec 2.0 network, pooled as ECG-FM pools it.

ECG-FM's released model is fairseq-signals' ``wav2vec2_cmsc`` at its defaults (``w2v_cmsc_rlm
.yaml``: ``encoder_embed_dim`` 768, ``in_d`` 12; ``ECGTransformerConfig``: four bias-free convs
(256, 2, 2) with one GroupNorm in the first ("default" extractor mode), ``conv_pos`` 128 in 16
groups, 12 post-norm layers of 768, 12 heads, FFN 3,072), which ``methods.wav2vec2_encoder``
builds exactly (the conformance test runs both on the same weights). Only the pooling is ECG-FM's
own: ``ecg_transformer_classifier.py`` (and ``ECG-FM/scripts/embs.py``) take
``x.sum(dim=1) / (x != 0).sum(dim=1)`` over the encoder's outputs, the mean over the steps whose
value is not exactly zero, per channel (the plain mean wherever no output is exactly 0).

``embed``: [B, 768]; ``features``: the encoder output per frame, stride 16 (2,500 samples ->
155 frames, the last repeated to 157).
"""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor

from methods.wav2vec2_encoder import WAV2VEC2_SIZES, Wav2Vec2Encoder, Wav2Vec2EncoderConfig

ECG_FM_SIZES: dict[str, Wav2Vec2EncoderConfig] = {
    "base": WAV2VEC2_SIZES["base"],
    "tiny": Wav2Vec2EncoderConfig(
        conv_layers=((32, 2, 2),) * 4, width=48, depth=2, heads=4, ffn_dim=96, conv_pos=16,
        conv_pos_groups=4,
    ),
}  # fmt: skip
"""``base``: the released ECG-FM (90.9 M parameters with its pretraining heads); ``tiny``: the
conformance fixture's (conv width 32 projected to 48, so ``post_extract_proj`` is exercised)."""


class EcgFmEncoder(Wav2Vec2Encoder):
    """fairseq-signals' wav2vec 2.0 encoder whose ``embed`` is ECG-FM's nonzero mean."""

    sizes: ClassVar[dict[str, Wav2Vec2EncoderConfig]] = ECG_FM_SIZES

    def embed(self, x: Tensor) -> Tensor:
        """Per channel, the sum over time of the outputs over the count of nonzero ones."""
        h = self.encode(x)
        return h.sum(dim=1) / (h != 0).sum(dim=1)
