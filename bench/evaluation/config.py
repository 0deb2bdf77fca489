"""Evaluation protocol options: windows, the four protocols (linear probe, fine-tuning,
attentive probe, k-NN) and the bootstrap."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from bench.config import check_range
from bench.evaluation.attentive import AttentiveConfig
from bench.evaluation.knn import KnnConfig
from bench.evaluation.probe import LinearProbeConfig
from bench.evaluation.robustness import NoiseConfig
from bench.evaluation.segmentation import SegmentationConfig
from bench.training.choices import DeviceChoice, Precision


@dataclass(frozen=True)
class FinetuneConfig:
    """Encoder + head trained with BCE on random crops of the labelled fraction.

    The run lasts ``epochs`` passes over the labelled records but at least ``min_steps``
    optimiser steps (tiny fractions would otherwise train for a handful of steps), capped by
    ``max_steps``. The encoder learns at ``lr * encoder_lr_scale`` (discriminative learning
    rates; 1.0 for a model trained from scratch), the head at ``lr``. ``schedule``: "cosine"
    (``warmup_fraction`` of linear warm-up, then a cosine decay to 0) or "one_cycle" (fastai's
    / torch's one-cycle policy as the PTB-XL benchmark trains: ``warmup_fraction`` rising from
    lr / 25, cosine down to lr / 25e4, Adam's beta1 cycled 0.95 -> 0.85 -> 0.95; set
    ``warmup_fraction: 0.3`` for fastai's default). Validation (fold 9) macro AUROC is measured
    ``evaluations`` times, evenly spaced; the best state is kept and training stops after
    ``patience`` evaluations without improvement.

    ``head`` on the encoder's ``embed`` (every encoder's embed is already pooled: concat
    pooling for CPC and xresnet1d): "method" (default) is the head the method's paper names
    (``Method.finetune_head``: CPC's BN -> dropout 0.25 -> 512 -> ReLU -> BN -> dropout 0.5 ->
    Linear; the xresnet1d's the same with 128 hidden) and "linear" for a method naming none;
    "linear" is batch norm (no affine) + a linear layer for every method; "mlp" is that
    paper head with this config's ``hidden``, ``input_dropout`` and ``dropout``.

    ``stages``: "method" (default) fine-tunes a pretrained encoder as its method's paper does
    where the method names stages (``Method.finetune_stages``; CPC: the head alone on the
    frozen encoder, then everything; ``bench.evaluation.finetune_stages`` says how the stages
    share this budget), else in one stage; "single": one stage for every method.

    ``regression_loss`` (regression tasks only): "mse" (default) or "huber" with
    ``huber_delta``, both on targets standardised with the training fraction's mean and SD.

    ``layer_decay`` (None: off): layer-wise learning-rate decay of a transformer encoder, per
    block from the head down (``bench.evaluation.layer_decay``; BenchECG and ST-MEM use 0.75
    or so); encoders without blocks ignore it.
    """

    epochs: int = 20
    min_steps: int = 100
    max_steps: int | None = None
    batch_size: int = 64
    lr: float = 1e-3
    encoder_lr_scale: float = 0.1
    weight_decay: float = 1e-2
    warmup_fraction: float = 0.05
    grad_clip: float | None = 1.0
    evaluations: int = 10
    patience: int = 5
    schedule: Literal["cosine", "one_cycle"] = "cosine"
    head: Literal["method", "linear", "mlp"] = "method"
    hidden: int = 512
    input_dropout: float = 0.25
    dropout: float = 0.5
    precision: Precision = "auto"
    stages: Literal["method", "single"] = "method"
    regression_loss: Literal["mse", "huber"] = "mse"
    huber_delta: float = 1.0
    layer_decay: float | None = None

    def __post_init__(self) -> None:
        check_range("evaluation.finetune.epochs", self.epochs, 1)
        if self.layer_decay is not None:
            check_range("evaluation.finetune.layer_decay", self.layer_decay, 1e-6, 1.0)
        check_range("evaluation.finetune.huber_delta", self.huber_delta, 1e-6)
        check_range("evaluation.finetune.min_steps", self.min_steps, 1)
        if self.max_steps is not None:
            check_range("evaluation.finetune.max_steps", self.max_steps, 1)
        check_range("evaluation.finetune.batch_size", self.batch_size, 1)
        check_range("evaluation.finetune.lr", self.lr, 1e-12)
        check_range("evaluation.finetune.encoder_lr_scale", self.encoder_lr_scale, 0)
        check_range("evaluation.finetune.weight_decay", self.weight_decay, 0)
        check_range("evaluation.finetune.warmup_fraction", self.warmup_fraction, 0, 1)
        if self.grad_clip is not None:
            check_range("evaluation.finetune.grad_clip", self.grad_clip, 1e-12)
        check_range("evaluation.finetune.evaluations", self.evaluations, 1)
        check_range("evaluation.finetune.patience", self.patience, 1)
        check_range("evaluation.finetune.hidden", self.hidden, 1)
        check_range("evaluation.finetune.dropout", self.dropout, 0, 0.99)
        check_range("evaluation.finetune.input_dropout", self.input_dropout, 0, 0.99)


@dataclass(frozen=True)
class EvaluationConfig:
    """How every cell is evaluated (selection on fold 9, report on fold 10 only).

    Records are cut into windows of the profile's ``window_s`` with ``stride_s`` (None = half
    a window, as the PTB-XL benchmark: 2.5 s windows, 1.25 s stride); the linear probe uses
    the mean of a record's window embeddings, fine-tuning aggregates window probabilities by
    ``aggregate`` ("mean" as the SSL papers, "max" as the PTB-XL benchmark code). The test
    fold's bootstrap uses ``n_boot`` fixed resamples (seed ``boot_seed``) and ``ci_level``.
    ``segmentation``: the frozen head of segmentation tasks (``bench.evaluation.segmentation``;
    their fine-tuning uses ``finetune``).

    ``val_fraction``: which validation records select the model (probe strength, fine-tuning
    state, F1 thresholds). ``full``: the whole validation fold at every label fraction.
    ``same``: the subset of the validation fold drawn by the rule of the labelled training
    subset (``bench.evaluation.fractions``: nested, stratified, patient-grouped, a positive of
    every class) at the cell's fraction and seed, so a 1 % cell also selects on about 1 % of
    the validation labels, as a practitioner with 1 % of the labels would.

    ``attentive`` / ``knn``: the attentive probe's head grid and token steps
    (``bench.evaluation.attentive``) and the k-NN grid (``bench.evaluation.knn``).

    ``noise``: noise robustness (``bench.evaluation.robustness``): the test fold scored again at
    each of ``noise.levels`` (off when empty, the default).
    """

    stride_s: float | None = None
    val_fraction: Literal["same", "full"] = "full"
    aggregate: Literal["mean", "max"] = "mean"
    linear: LinearProbeConfig = field(default_factory=LinearProbeConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    segmentation: SegmentationConfig = field(default_factory=SegmentationConfig)
    attentive: AttentiveConfig = field(default_factory=AttentiveConfig)
    knn: KnnConfig = field(default_factory=KnnConfig)
    n_boot: int = 1000
    boot_seed: int = 0
    ci_level: float = 0.9
    batch_size: int = 256
    device: DeviceChoice = "auto"
    noise: NoiseConfig = field(default_factory=NoiseConfig)

    def __post_init__(self) -> None:
        if self.stride_s is not None:
            check_range("evaluation.stride_s", self.stride_s, 1e-3)
        check_range("evaluation.n_boot", self.n_boot, 10)
        check_range("evaluation.boot_seed", self.boot_seed, 0)
        check_range("evaluation.ci_level", self.ci_level, 0.5, 0.999)
        check_range("evaluation.batch_size", self.batch_size, 1)
