"""``wav2vec2``: wav2vec 2.0 for 12-lead ECG (Oh et al., CHIL 2022 "lead-agnostic" SSL; ECG-FM).

The recipe of fairseq-signals (Jwoo5/fairseq-signals, commit 6b9e137:
``models/wav2vec2/wav2vec2.py``, ``criterions/wav2vec2_criterion.py``,
``examples/wav2vec2/config/pretraining/w2v.yaml`` and ``w2v_rlm.yaml``):

1. RLM (``lead_mask_prob``, 0.5 in ``w2v_rlm.yaml``; 0 is plain ``w2v.yaml``): leads zeroed at
   random (``methods.wav2vec2_masking``).
2. The feature encoder (``methods.wav2vec2_encoder``) makes frames; its gradient is scaled by
   ``feature_grad_scale`` (0.1), and ``feature_penalty`` (10) times the mean square of its
   output is added to the loss.
3. Spans of frames are masked (``mask_prob`` 0.65, ``mask_length`` 10, at least 2 spans) and
   replaced by a learned mask embedding (uniform [0, 1) at init) before the context network.
4. Targets: the unmasked, layer-normed frames at the masked steps, after a dropout
   (``dropout_features`` 0.1), quantised (``methods.wav2vec2_quantizer``: G = 2 groups of V =
   320 entries, ``final_dim`` 256) and projected by a Linear to ``final_dim``.
5. The context at the masked steps, projected by a Linear to ``final_dim``, scores its target
   against ``num_negatives`` (100) distractors from the same record by cosine similarity over
   ``logit_temperature`` (0.1); a distractor equal to the target scores minus infinity.
   Loss = cross-entropy of the target (InfoNCE, mean over the masked steps)
   + ``diversity_weight`` (0.1) x (G V - prob_perplexity) / (G V) + the feature penalty.

Collapse rule: the codebook's ``code_perplexity`` (how many entries the targets use). A
quantiser that maps every frame to a few entries makes the task trivial and its targets
useless; the guard flags a run whose perplexity ends below ``collapse_ratio`` of its start.
Downstream, ``encoder.embed`` is the mean of the context network's outputs on the unmasked
(and un-lead-masked) input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bench.config import check_range
from bench.encoders.base import InputSpec
from bench.errors import ConfigError
from bench.method import METHODS, CollapseRule, InputRegime, Method
from methods.wav2vec2_encoder import WAV2VEC2_SIZES, Wav2Vec2Encoder
from methods.wav2vec2_masking import most_spans, random_lead_mask, sample_negatives, span_mask
from methods.wav2vec2_quantizer import GumbelQuantizer


@dataclass(frozen=True)
class Wav2Vec2Config:
    """Fields of ``wav2vec2``; defaults are CPU-sized, fairseq-signals' values are noted.

    - ``size``: the encoder (``WAV2VEC2_SIZES``: tiny | base; paper: base).
    - ``final_dim``: width of the contrasted vectors (paper 256); ``codebook_groups`` G (2) and
      ``codebook_entries`` V (paper 320); ``gumbel_temperature``: (start, end, decay per
      update) of the Gumbel softmax (paper (2, 0.5, 0.999995)).
    - ``mask_prob`` (0.65), ``mask_length`` (10 frames), ``min_spans`` (2): span masking.
    - ``num_negatives`` (100), ``logit_temperature`` (0.1): the contrastive task.
    - ``diversity_weight`` (0.1), ``feature_penalty`` (10): the extra loss terms
      (the criterion's ``loss_weights``).
    - ``dropout_features`` (0.1): dropout on the frames before they become targets;
      ``feature_grad_scale`` (0.1): gradient scale into the feature encoder.
    - ``lead_mask_prob``: RLM, the chance of each lead being zeroed (0.5; 0 turns it off).
    - ``collapse_ratio``: the collapse guard on ``code_perplexity`` (see the module docstring).
    - ``finetune_features``: whether fine-tuning trains the convolutional feature encoder,
      False (default, fairseq-signals: its fine-tuning sets ``feature_grad_mult`` 0, so the
      feature encoder gets no gradient) or True (trained with the rest of the encoder). It
      holds for the pretrained network; a matched baseline trained from scratch
      (``supervised[wav2vec2]``) always trains its feature encoder.
    """

    size: str = "tiny"
    final_dim: int = 32
    codebook_groups: int = 2
    codebook_entries: int = 32
    gumbel_temperature: tuple[float, float, float] = (2.0, 0.5, 0.999995)
    mask_prob: float = 0.65
    mask_length: int = 10
    min_spans: int = 2
    num_negatives: int = 100
    logit_temperature: float = 0.1
    diversity_weight: float = 0.1
    feature_penalty: float = 10.0
    dropout_features: float = 0.1
    feature_grad_scale: float = 0.1
    lead_mask_prob: float = 0.5
    collapse_ratio: float = 0.2
    finetune_features: bool = False

    def __post_init__(self) -> None:
        where = "wav2vec2"
        if self.size not in WAV2VEC2_SIZES:
            known = ", ".join(WAV2VEC2_SIZES)
            raise ConfigError(f"{where}.size = {self.size!r} is not one of {known}")
        for name in ("final_dim", "codebook_groups", "codebook_entries", "mask_length",
                     "num_negatives"):  # fmt: skip
            check_range(f"{where}.{name}", getattr(self, name), 1)
        if self.final_dim % self.codebook_groups:
            raise ConfigError(
                f"{where}.final_dim = {self.final_dim} must be divisible by codebook_groups = "
                f"{self.codebook_groups}"
            )
        start, end, decay = self.gumbel_temperature
        check_range(f"{where}.gumbel_temperature[1]", end, 1e-6)
        check_range(f"{where}.gumbel_temperature[0]", start, end)
        check_range(f"{where}.gumbel_temperature[2]", decay, 1e-6, 1.0)
        check_range(f"{where}.mask_prob", self.mask_prob, 0.0, 1.0)
        check_range(f"{where}.min_spans", self.min_spans, 1)
        check_range(f"{where}.logit_temperature", self.logit_temperature, 1e-6)
        for name in ("diversity_weight", "feature_penalty", "collapse_ratio"):
            check_range(f"{where}.{name}", getattr(self, name), 0.0)
        check_range(f"{where}.dropout_features", self.dropout_features, 0.0, 0.99)
        check_range(f"{where}.feature_grad_scale", self.feature_grad_scale, 0.0, 1.0)
        check_range(f"{where}.lead_mask_prob", self.lead_mask_prob, 0.0, 0.99)


def scale_gradient(x: Tensor, scale: float) -> Tensor:
    """``x`` in the forward pass; its gradient times ``scale`` in the backward pass."""
    return x if scale == 1.0 else x * scale + x.detach() * (1.0 - scale)


def contrastive_logits(context: Tensor, targets: Tensor, negatives: Tensor, temp: float) -> Tensor:
    """Cosine similarity / ``temp`` of context [B, M, D] with its target [B, M, D] (index 0) and
    each distractor [K, B, M, D]: float32 [K + 1, B, M]; a distractor equal to the target
    scores minus infinity."""
    candidates = torch.cat([targets.unsqueeze(0), negatives]).float()
    logits = F.cosine_similarity(context.float().unsqueeze(0), candidates, dim=-1) / temp
    same = (negatives == targets.unsqueeze(0)).all(dim=-1)
    return torch.cat([logits[:1], logits[1:].masked_fill(same, float("-inf"))])


@METHODS.register("wav2vec2")
class Wav2Vec2(Method):
    """wav2vec 2.0: identify the quantised frame behind each masked step among distractors."""

    name: ClassVar[str] = "wav2vec2"
    config_class: ClassVar[type[Wav2Vec2Config]] = Wav2Vec2Config
    group: ClassVar[str] = "comparators"
    compile_dynamic: ClassVar[bool] = True  # the masked count changes with every mask
    # fairseq-signals' input: 12 leads at 500 Hz (linear interpolation), 5-s pieces, in mV, not
    # normalised (``normalize: false``).
    native_input: ClassVar[InputRegime] = InputRegime(500, "12", 5.0, "none", "linear")
    config: Wav2Vec2Config

    def __init__(self, config: Wav2Vec2Config, input_spec: InputSpec):
        super().__init__(config, input_spec)
        self.encoder = Wav2Vec2Encoder(WAV2VEC2_SIZES[config.size], input_spec)
        self.encoder.freeze_features = not config.finetune_features
        self.n_frames = self.encoder.config.n_frames(input_spec.n_samples)
        spans = most_spans(self.n_frames, config.mask_prob, config.mask_length, config.min_spans)
        if self.n_frames - config.mask_length < spans:
            raise ConfigError(
                f"wav2vec2: a crop of {input_spec.n_samples} samples gives {self.n_frames} "
                f"frames, too few for up to {spans} spans of mask_length = "
                f"{config.mask_length}; use longer crops or a shorter mask_length"
            )
        self.mask_embedding = nn.Parameter(torch.rand(self.encoder.config.width))
        self.quantizer = GumbelQuantizer(
            self.encoder.channels,
            config.codebook_groups,
            config.codebook_entries,
            config.final_dim,
            config.gumbel_temperature,
        )
        self.project_targets = nn.Linear(config.final_dim, config.final_dim)
        self.project_context = nn.Linear(self.encoder.config.width, config.final_dim)
        self.dropout_features = nn.Dropout(config.dropout_features)

    def loss(self, batch: Tensor) -> dict[str, Tensor]:
        """InfoNCE over masked frames + diversity + feature penalty (module docstring)."""
        config = self.config
        if config.lead_mask_prob > 0:
            batch = random_lead_mask(batch, config.lead_mask_prob)
        rows = batch.shape[0]
        masked = span_mask(
            rows, self.n_frames, config.mask_prob, config.mask_length, config.min_spans,
            batch.device,
        )  # fmt: skip
        return self.objective(batch, masked)

    def objective(self, batch: Tensor, masked: Tensor) -> dict[str, Tensor]:
        """The loss terms with the frames of ``masked`` (bool [B, T], equal counts) hidden."""
        config = self.config
        conv = scale_gradient(self.encoder.conv_features(batch), config.feature_grad_scale)
        penalty = conv.float().square().mean()
        frames = self.encoder.frames(conv)
        context = self.encoder.context(frames, masked, self.mask_embedding)
        rows, width = masked.shape[0], frames.shape[-1]
        hidden = self.dropout_features(frames)[masked].reshape(rows, -1, width)
        quantized = self.quantizer(hidden.reshape(-1, width))
        targets = self.project_targets(quantized.vectors.to(hidden.dtype))
        targets = targets.reshape(rows, hidden.shape[1], -1)
        negatives = sample_negatives(targets, config.num_negatives)
        predictions = self.project_context(context[masked].reshape(rows, hidden.shape[1], -1))
        logits = contrastive_logits(predictions, targets, negatives, config.logit_temperature)
        flat = logits.permute(1, 2, 0).reshape(-1, logits.shape[0])
        contrastive = F.cross_entropy(flat, torch.zeros(len(flat), dtype=torch.long,
                                                        device=flat.device))  # fmt: skip
        num_vars = self.quantizer.num_vars
        diversity = (num_vars - quantized.prob_perplexity) / num_vars
        loss = contrastive + config.diversity_weight * diversity + config.feature_penalty * penalty
        return {
            "loss": loss,
            "contrastive": contrastive.detach(),
            "diversity": diversity.detach(),
            "feature_penalty": penalty.detach(),
            "accuracy": (flat.argmax(dim=1) == 0).float().mean(),
            "code_perplexity": quantized.code_perplexity.detach(),
            "prob_perplexity": quantized.prob_perplexity.detach(),
            "temperature": quantized.temperature,
        }

    def on_step_end(self, step: int, total_steps: int) -> None:
        """The Gumbel temperature follows the update count."""
        self.quantizer.set_updates(step)

    def collapse_rule(self) -> CollapseRule:
        """Codebook collapse: the targets' code perplexity falling below its share at start."""
        return CollapseRule(metric="code_perplexity", ratio=self.config.collapse_ratio)

    @classmethod
    def untrained_encoder(cls, config: Wav2Vec2Config, input_spec: InputSpec) -> Wav2Vec2Encoder:
        """Its encoder freshly initialised, for matched baselines: a network trained from
        scratch (``supervised[wav2vec2]``) trains its feature encoder too, whatever
        ``finetune_features`` says (fairseq-signals freezes a pretrained one)."""
        encoder = cls(config, input_spec).encoder
        encoder.freeze_features = False
        return encoder
