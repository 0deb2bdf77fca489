"""CPC: contrastive predictive coding on 12-lead ECG (Mehari & Strodthoff, arXiv 2103.12676).

The encoder (``methods.cpc_encoder``) turns each time step into an encoding z_t and a
unidirectional LSTM turns z_<=t into a context c_t. One bias-free linear projection maps c_t to a
prediction of z_{t+k}, k = ``steps_ahead`` steps later; InfoNCE scores it against the true
z_{t+k} and ``n_negatives`` encodings of other time steps of the same recording.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import torch
from torch import Tensor, nn

from bench.config import check_range
from bench.encoders.base import InputSpec
from bench.errors import ConfigError
from bench.method import METHODS, HeadSpec, InputRegime, Method, StagedFinetune
from methods.cpc_encoder import CPCEncoder, CPCEncoderConfig


@dataclass(frozen=True)
class CPCConfig:
    """Sizes and InfoNCE settings of CPC (defaults are CPU-sized; the paper's values in brackets).

    width: channels of the per-step encoder g_enc (paper 512); hidden: LSTM units of g_ar
    (paper 512); encoder_layers: kernel-1 layers of g_enc (4); lstm_layers: LSTM layers (2).
    predict_ahead_s: how far ahead the context predicts, in seconds (0.12 s = the paper's 12
    steps at 100 Hz); the step count is ``round(predict_ahead_s * sampling_rate)``, so it is
    30 steps at 250 Hz. n_negatives: negatives per prediction (128), drawn uniformly with
    replacement from the other time steps of the same recording, never the positive's step
    (as the paper's code does; earlier and later steps alike).

    loss_reduction: how the InfoNCE terms combine, "sum" (default, the paper's code: the
    batch-mean cross-entropy of each predicted time step, summed over the steps) or "mean"
    (averaged over every prediction: the sum divided by the number of predicted steps, so the
    loss scale and the learning rate no longer depend on the crop length). The scores are
    plain dot products (temperature 1, no normalisation), as there.

    Input (``CPC.native_input``, used by profiles with ``input: native``, e.g. ``paper``): the
    paper's 100 Hz, 12 leads, 10 s crops (1,000 samples, so 12 steps ahead), each lead
    standardised with the training folds' mean and std (``preprocessing.normalize: train``).
    Under ``input: shared`` CPC sees the profile's shared preprocessing and window like every
    other method (``smoke``: 100 Hz, 12 leads, 2.5 s, not normalised; a PTB-XL copy may
    already be z-scored per record and lead, as the development subset is).
    """

    width: int = 64
    hidden: int = 64
    encoder_layers: int = 4
    lstm_layers: int = 2
    predict_ahead_s: float = 0.12
    n_negatives: int = 128
    loss_reduction: Literal["sum", "mean"] = "sum"

    def __post_init__(self) -> None:
        if self.loss_reduction not in ("sum", "mean"):
            raise ConfigError(
                f"cpc.loss_reduction = {self.loss_reduction!r} is not 'sum' (the paper's code) "
                "or 'mean'"
            )
        check_range("cpc.predict_ahead_s", self.predict_ahead_s, 1e-6)
        check_range("cpc.n_negatives", self.n_negatives, 1)
        self.encoder_config()

    def encoder_config(self) -> CPCEncoderConfig:
        """The encoder part of this config (validated)."""
        return CPCEncoderConfig(
            width=self.width,
            hidden=self.hidden,
            encoder_layers=self.encoder_layers,
            lstm_layers=self.lstm_layers,
        )


def steps_ahead_for(config: CPCConfig, input_spec: InputSpec) -> int:
    """Prediction distance in samples for ``input_spec``; ConfigError if the crop is too short."""
    steps = max(1, round(config.predict_ahead_s * input_spec.sampling_rate))
    if steps >= input_spec.n_samples:
        raise ConfigError(
            f"cpc.predict_ahead_s = {config.predict_ahead_s} s is {steps} steps at "
            f"{input_spec.sampling_rate} Hz, not shorter than the {input_spec.n_samples}-sample "
            "crop; lower predict_ahead_s or lengthen window_s"
        )
    return steps


def draw_negatives(
    batch: int,
    positions: int,
    length: int,
    steps_ahead: int,
    n_negatives: int,
    device: torch.device,
) -> Tensor:
    """Time indices of negatives, long [batch, positions, n_negatives], from torch's global RNG.

    The prediction made at time p targets step p + steps_ahead; its negatives are uniform over
    the other ``length - 1`` steps (drawn from [0, length - 1) and shifted past the target).
    """
    draws = torch.randint(0, length - 1, (batch, positions, n_negatives), device=device)
    targets = torch.arange(positions, device=device)[None, :, None] + steps_ahead
    return draws + (draws >= targets).long()


def candidate_logits(
    predictions: Tensor, encodings: Tensor, steps_ahead: int, negatives: Tensor
) -> Tensor:
    """Scores [B, P, 1 + N] of each prediction against its positive (column 0) and negatives.

    ``predictions`` [B, P, D] are made at times 0..P-1, ``encodings`` [B, T, D] are the z_t of
    the same recordings and ``negatives`` [B, P, N] index their time axis. Every prediction is
    scored against every step of its own recording once (a [B, P, T] matrix, far smaller than
    gathering N candidate vectors per prediction), then the candidates are picked from it.
    Computed in the inputs' dtype with autocast off (call it with float32 or float64).
    """
    with torch.autocast(predictions.device.type, enabled=False):
        scores = predictions @ encodings.transpose(1, 2)
    batch, positions, _ = predictions.shape
    targets = torch.arange(positions, device=predictions.device) + steps_ahead
    positive = scores.gather(2, targets.expand(batch, positions).unsqueeze(-1))
    return torch.cat([positive, scores.gather(2, negatives)], dim=-1)


def info_nce(logits: Tensor, reduction: Literal["sum", "mean"] = "mean") -> Tensor:
    """Cross-entropy of picking column 0 (the positive) among the candidates' logits [B, P,
    1 + N]: "mean" over every prediction, or "sum" over the P time steps of the mean over
    the batch (the CPC paper's code)."""
    terms = torch.logsumexp(logits, dim=-1) - logits[..., 0]
    return terms.mean() if reduction == "mean" else terms.mean(dim=0).sum()


@METHODS.register("cpc")
class CPC(Method):
    """Contrastive predictive coding: LSTM context predicts the encoding k steps ahead (InfoNCE)."""

    name: ClassVar[str] = "cpc"
    config_class: ClassVar[type[CPCConfig]] = CPCConfig
    native_input: ClassVar[InputRegime] = InputRegime(100, "12", 10.0, "train")
    # The paper's fine-tuning head on the concat pooling (mean, max, last) of the LSTM outputs.
    finetune_head: ClassVar[HeadSpec] = HeadSpec(hidden=512, input_dropout=0.25, dropout=0.5)
    # The paper's fine-tune: the head alone 50 epochs at 1e-3, then everything 20 epochs at
    # 1e-4 with discriminative learning rates (profiles keep their budget and lr: see
    # bench.evaluation.finetune_stages).
    finetune_stages: ClassVar[StagedFinetune] = StagedFinetune(50, 1e-3, 20, 1e-4)
    config: CPCConfig
    encoder: CPCEncoder

    def __init__(self, config: CPCConfig, input_spec: InputSpec):
        super().__init__(config, input_spec)
        self.steps_ahead = steps_ahead_for(config, input_spec)
        self.encoder = CPCEncoder(config.encoder_config(), input_spec)
        self.projection = nn.Linear(config.hidden, config.width, bias=False)

    def loss(self, batch: Tensor) -> dict[str, Tensor]:
        """InfoNCE over every prediction of the crops; also the share ranked first (accuracy)."""
        encodings = self.encoder.encode(batch)
        contexts = self.encoder.contexts(encodings)
        k = self.steps_ahead
        predictions = self.projection(contexts[:, :-k])
        n_batch, length, _ = encodings.shape
        negatives = draw_negatives(
            n_batch, length - k, length, k, self.config.n_negatives, batch.device
        )
        logits = candidate_logits(predictions.float(), encodings.float(), k, negatives)
        accuracy = (logits.argmax(dim=-1) == 0).float().mean()
        loss = info_nce(logits, self.config.loss_reduction)
        return {"loss": loss, "accuracy": accuracy.detach()}
