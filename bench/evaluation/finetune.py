"""Fine-tuning protocol: encoder + head trained on the labelled fraction, selected on fold 9."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from bench.data.formats.ragged import Ragged
from bench.encoders.base import Encoder
from bench.errors import ConfigError
from bench.evaluation.config import FinetuneConfig
from bench.evaluation.finetune_crops import random_crops, training_records
from bench.evaluation.finetune_stages import Stage, plan_stages
from bench.evaluation.frozen_features import frozen_features
from bench.evaluation.layer_decay import scaled_groups
from bench.evaluation.objectives import MULTILABEL, Objective
from bench.evaluation.windows import (
    Aggregate,
    PreparedWindows,
    pool_windows,
    prepare_windows,
    window_chunks,
)
from bench.method import HeadSpec, StagedFinetune
from bench.training.config import autocast_dtype
from bench.training.flat_records import FlatRecords
from bench.training.optim import WarmupCosine


@dataclass(frozen=True)
class WindowedEval:
    """How records are scored: windows of ``window`` samples every ``stride``, aggregated."""

    window: int
    stride: int
    aggregate: Aggregate
    batch_size: int


@dataclass(frozen=True)
class FinetuneResult:
    """Scores of the selected state on validation and test, and how it was selected."""

    val_scores: np.ndarray
    test_scores: np.ndarray
    best_step: int
    steps: int
    val_curve: list[tuple[int, float]]
    extra_scores: tuple[np.ndarray, ...] = ()  # of ``extra_signals``, by the selected state
    stage_steps: tuple[int, ...] = ()  # planned steps per stage of a multi-stage fine-tune


@dataclass(frozen=True)
class Selected:
    """The best validation evaluation so far: its score, step, weights and val scores."""

    auroc: float
    step: int
    state: dict[str, Tensor]
    val_scores: np.ndarray


def head_spec(config: FinetuneConfig, named: HeadSpec | None) -> HeadSpec | None:
    """The MLP head a cell uses (None: the linear head); ``named`` is the method's own."""
    if config.head == "mlp":
        return HeadSpec(config.hidden, config.input_dropout, config.dropout)
    return named if config.head == "method" else None


def mlp_head(dim: int, n_classes: int, spec: HeadSpec) -> nn.Sequential:
    """fastai's head: BN -> dropout -> Linear(hidden) -> ReLU -> BN -> dropout -> Linear."""
    return nn.Sequential(
        nn.BatchNorm1d(dim),
        nn.Dropout(spec.input_dropout),
        nn.Linear(dim, spec.hidden),
        nn.ReLU(),
        nn.BatchNorm1d(spec.hidden),
        nn.Dropout(spec.dropout),
        nn.Linear(spec.hidden, n_classes),
    )


class Classifier(nn.Module):
    """An encoder with a multi-label head on its ``embed`` output (logits).

    ``head`` None is the linear head; a HeadSpec is the MLP head of ``mlp_head``.
    """

    def __init__(self, encoder: Encoder, n_classes: int, head: HeadSpec | None = None):
        super().__init__()
        self.encoder = encoder
        dim = encoder.embed_dim
        # The linear head standardises the embedding first (batch norm without affine, as
        # MAE's linear probing): mean-pooled, layer-normed tokens vary little across records,
        # and raw features that small would leave the head learning very slowly.
        if head is None:
            self.head: nn.Module = nn.Sequential(
                nn.BatchNorm1d(dim, affine=False), nn.Linear(dim, n_classes)
            )
        else:
            self.head = mlp_head(dim, n_classes, head)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.encoder.embed(x))


def finetune(
    encoder: Encoder,
    train: tuple[np.ndarray | Ragged, np.ndarray],
    val: tuple[np.ndarray | Ragged, np.ndarray],
    test_signals: np.ndarray | Ragged,
    config: FinetuneConfig,
    windows: WindowedEval,
    device: torch.device,
    seed: int,
    encoder_lr_scale: float | None = None,
    progress: bool = True,
    named_head: HeadSpec | None = None,
    objective: Objective = MULTILABEL,
    extra_signals: Sequence[np.ndarray | Ragged] = (),
    named_stages: StagedFinetune | None = None,
) -> FinetuneResult:
    """Train ``encoder`` + a head on ``train`` (signals, labels); keep the best state on ``val``.

    ``objective`` gives the task kind's loss, outputs and validation selection score
    (``bench.evaluation.objectives``; default: multi-label BCE, selected on macro AUROC).

    ``encoder_lr_scale`` overrides the config's (1.0 for an encoder trained from scratch);
    ``named_head`` is the head the method's paper names (used where ``config.head`` is
    "method"); ``named_stages`` its paper's head-then-everything stages (used where
    ``config.stages`` is "method"; ``bench.evaluation.finetune_stages``). Only validation
    decides the state kept; ``test_signals`` are scored once, at the end, and so is each of
    ``extra_signals`` (e.g. the noisy test folds). Validation is windowed once
    (``prepare_windows``) and every evaluation scores the same batches; while the encoder is
    frozen its features of those batches are computed once (``frozen_features``).
    """
    torch.manual_seed(seed)
    head = head_spec(config, named_head)
    model = Classifier(copy.deepcopy(encoder), train[1].shape[1], head).to(device).train()
    scale = config.encoder_lr_scale if encoder_lr_scale is None else encoder_lr_scale
    records = training_records(train[0], device)
    population = records.eligible(windows.window) if isinstance(records, FlatRecords) else None
    if population is not None and not len(population):
        raise ConfigError(f"no training record is as long as the {windows.window}-sample window")
    batch = min(config.batch_size, len(records))
    total = planned_steps(len(records), batch, config)
    stages = plan_stages(total, config, scale, named_stages)
    run = _Run(
        model=model,
        config=config,
        records=records,
        population=population,
        labels=torch.as_tensor(train[1], dtype=torch.float32, device=device),
        batch=batch,
        window=windows.window,
        val_labels=val[1],
        val_windows=prepare_windows(
            val[0], windows.window, windows.stride, device, windows.batch_size
        ),
        scoring=_Scoring(windows, device, autocast_dtype(config.precision, device), objective),
        eval_every=max(1, total // config.evaluations),
        generator=torch.Generator().manual_seed(seed),
        bar=tqdm(total=total, desc="finetune", leave=False, disable=not progress),
    )
    for stage in stages:
        if run.best is not None:  # a later stage starts from the best validation state
            model.load_state_dict(run.best.state)
        run.train_stage(stage)
    run.bar.close()
    best = run.best
    assert best is not None  # the last step of every stage evaluates
    model.load_state_dict(best.state)
    return FinetuneResult(
        val_scores=best.val_scores,
        test_scores=run.scoring(model, test_signals),
        best_step=best.step,
        steps=run.steps,
        val_curve=run.curve,
        extra_scores=tuple(run.scoring(model, signals) for signals in extra_signals),
        stage_steps=tuple(stage.steps for stage in stages) if len(stages) > 1 else (),
    )


@dataclass
class _Scoring:
    """Per-record outputs of a model on a fold (``_score`` with this run's settings)."""

    windows: WindowedEval
    device: torch.device
    dtype: torch.dtype | None
    objective: Objective

    def __call__(
        self, model: Classifier, signals: np.ndarray | Ragged | PreparedWindows
    ) -> np.ndarray:
        return _score(model, signals, self.windows, self.device, self.dtype, self.objective.output)

    @torch.no_grad()
    def frozen(self, model: Classifier, windows: PreparedWindows) -> np.ndarray:
        """What ``self(model, windows)`` gives with ``model.encoder`` frozen: its features from
        ``frozen_features``, the head applied to them."""
        device, dtype = self.device, self.dtype
        features = frozen_features(model.encoder, windows, dtype)
        model.eval()

        def probabilities(x: Tensor) -> Tensor:
            with torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext():
                return self.objective.output(model.head(x).float())

        return pool_windows(features, probabilities, self.windows.aggregate, len(windows))


@dataclass
class _Run:
    """One fine-tune's training state across its stages: the best validation state so far,
    the validation curve and the steps taken (``steps`` counts every stage)."""

    model: Classifier
    config: FinetuneConfig
    records: Tensor | FlatRecords
    population: Tensor | None
    labels: Tensor
    batch: int
    window: int
    val_labels: np.ndarray
    val_windows: PreparedWindows
    scoring: _Scoring
    eval_every: int
    generator: torch.Generator
    bar: tqdm
    best: Selected | None = None
    curve: list[tuple[int, float]] = field(default_factory=list)
    steps: int = 0

    def train_stage(self, stage: Stage) -> None:
        """``stage.steps`` optimiser steps (fewer if validation stops improving)."""
        model, config = self.model, self.config
        model.encoder.requires_grad_(stage.train_encoder)
        self._train_mode(stage)
        device, dtype = self.scoring.device, self.scoring.dtype
        optimizer = finetune_optimizer(
            model, config, stage.encoder_lr_scale, device, stage.lr, stage.train_encoder
        )
        schedule = WarmupCosine(
            stage.lr, 0.0, round(config.warmup_fraction * stage.steps), stage.steps
        )
        one_cycle = (
            _one_cycle(optimizer, config, stage.steps, stage.lr)
            if config.schedule == "one_cycle"
            else None
        )
        stale = 0
        for step in range(stage.steps):
            for group in optimizer.param_groups if one_cycle is None else ():
                group["lr"] = schedule(step) * group["lr_scale"]
            rows, crops = self._crops()
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext():
                logits = model(crops) if stage.train_encoder else head_only_logits(model, crops)
            loss = self.scoring.objective.loss(logits.float(), self.labels[rows])
            loss.backward()
            if config.grad_clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            if one_cycle is not None and step + 1 < stage.steps:
                one_cycle.step()
            self.steps += 1
            self.bar.update()
            if self.steps % self.eval_every == 0 or step + 1 == stage.steps:
                if self._evaluate(stage):
                    stale = 0
                else:
                    stale += 1
                    if stale >= config.patience:
                        break
                self._train_mode(stage)

    def _crops(self) -> tuple[Tensor, Tensor]:
        records, batch, window = self.records, self.batch, self.window
        if isinstance(records, FlatRecords) and self.population is not None:
            return records.random_crops(self.population, batch, window, self.generator)
        assert isinstance(records, Tensor)
        return random_crops(records, batch, window, self.generator)

    def _evaluate(self, stage: Stage) -> bool:
        """Score validation now; True (and keep this state) if it is the best so far."""
        if stage.train_encoder:
            val_scores = self.scoring(self.model, self.val_windows)
        else:
            val_scores = self.scoring.frozen(self.model, self.val_windows)
        score = self.scoring.objective.score(self.val_labels, val_scores)
        self.curve.append((self.steps, score))
        self.bar.set_postfix(val_auroc=f"{score:.3f}")
        if self.best is None or score > self.best.auroc:
            self.best = Selected(score, self.steps, _cpu_state(self.model), val_scores)
            return True
        return False

    def _train_mode(self, stage: Stage) -> None:
        self.model.train()
        if not stage.train_encoder:  # frozen: batch norm keeps its pretrained statistics
            self.model.encoder.eval()


def head_only_logits(model: Classifier, crops: Tensor) -> Tensor:
    """Logits with the encoder frozen: its features computed without gradients."""
    with torch.no_grad():
        features = model.encoder.embed(crops)
    return model.head(features)


def planned_steps(n_records: int, batch: int, config: FinetuneConfig) -> int:
    """Optimiser steps of a fine-tune: ``epochs`` passes, at least ``min_steps``, capped."""
    total = max(config.min_steps, config.epochs * math.ceil(n_records / batch))
    return min(total, config.max_steps) if config.max_steps is not None else total


def finetune_optimizer(
    model: Classifier,
    config: FinetuneConfig,
    encoder_scale: float,
    device: torch.device,
    lr: float | None = None,
    train_encoder: bool = True,
) -> torch.optim.AdamW:
    """AdamW at ``lr`` (None: ``config.lr``) over the head (``lr_scale`` 1) and, where
    ``train_encoder``, the encoder (``lr_scale`` ``encoder_scale``, times its layer's factor
    under ``config.layer_decay``: ``bench.evaluation.layer_decay``)."""
    groups = scaled_groups(model.head, config.weight_decay, 1.0)
    if train_encoder:
        groups += scaled_groups(
            model.encoder, config.weight_decay, encoder_scale, config.layer_decay
        )
    peak = config.lr if lr is None else lr
    return torch.optim.AdamW(groups, lr=peak, fused=device.type == "cuda")


def _one_cycle(
    optimizer: torch.optim.AdamW, config: FinetuneConfig, total: int, lr: float | None = None
) -> torch.optim.lr_scheduler.OneCycleLR:
    """torch's one-cycle policy (fastai's defaults: lr / 25 -> lr -> lr / 25e4, beta1 cycled)
    per parameter group at ``lr * lr_scale`` (None: ``config.lr``) over ``total`` steps,
    warming up over ``warmup_fraction``."""
    peak = config.lr if lr is None else lr
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=[peak * group["lr_scale"] for group in optimizer.param_groups],
        total_steps=total,
        pct_start=config.warmup_fraction,
        div_factor=25.0,
        final_div_factor=1e4,
    )


@torch.no_grad()
def _score(
    model: Classifier,
    signals: np.ndarray | Ragged | PreparedWindows,
    windows: WindowedEval,
    device: torch.device,
    dtype: torch.dtype | None,
    output: Callable[[Tensor], Tensor] = torch.sigmoid,
) -> np.ndarray:
    """Per-record outputs: ``output`` of each window (probabilities for the classification
    kinds) aggregated by ``windows.aggregate``; ``signals`` may be windows cut beforehand
    (``prepare_windows``, the same batches)."""
    model.eval()

    def probabilities(x: Tensor) -> Tensor:
        with torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext():
            return output(model(x).float())

    chunks = (
        signals
        if isinstance(signals, PreparedWindows)
        else window_chunks(signals, windows.window, windows.stride, device, windows.batch_size)
    )
    return pool_windows(chunks, probabilities, windows.aggregate, len(signals))


def _cpu_state(model: nn.Module) -> dict[str, Tensor]:
    return {name: value.detach().to("cpu", copy=True) for name, value in model.state_dict().items()}
