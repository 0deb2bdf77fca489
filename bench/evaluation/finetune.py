"""Fine-tuning protocol: encoder + head trained on the labelled fraction, selected on fold 9."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from bench.data.ragged import Ragged
from bench.encoders.base import Encoder
from bench.errors import ConfigError
from bench.evaluation.config import FinetuneConfig
from bench.evaluation.objectives import MULTILABEL, Objective
from bench.evaluation.windows import Aggregate, apply_windowed
from bench.method import HeadSpec
from bench.training.config import autocast_dtype
from bench.training.flat_records import FlatRecords
from bench.training.optim import WarmupCosine, parameter_groups


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
) -> FinetuneResult:
    """Train ``encoder`` + a head on ``train`` (signals, labels); keep the best state on ``val``.

    ``objective`` gives the task kind's loss, outputs and validation selection score
    (``bench.evaluation.objectives``; default: multi-label BCE, selected on macro AUROC).

    ``encoder_lr_scale`` overrides the config's (1.0 for an encoder trained from scratch);
    ``named_head`` is the head the method's paper names (used where ``config.head`` is
    "method"). Only validation decides the state kept; ``test_signals`` are scored once, at
    the end.
    """
    torch.manual_seed(seed)
    head = head_spec(config, named_head)
    model = Classifier(copy.deepcopy(encoder), train[1].shape[1], head).to(device).train()
    model.encoder.requires_grad_(True)
    scale = config.encoder_lr_scale if encoder_lr_scale is None else encoder_lr_scale
    optimizer = _optimizer(model, config, scale, device)
    records = _place(train[0], device)
    population = records.eligible(windows.window) if isinstance(records, FlatRecords) else None
    if population is not None and not len(population):
        raise ConfigError(f"no training record is as long as the {windows.window}-sample window")
    labels = torch.as_tensor(train[1], dtype=torch.float32, device=device)
    batch = min(config.batch_size, len(records))
    total = _total_steps(len(records), batch, config)
    schedule = WarmupCosine(config.lr, 0.0, round(config.warmup_fraction * total), total)
    one_cycle = _one_cycle(optimizer, config, total) if config.schedule == "one_cycle" else None
    eval_every = max(1, total // config.evaluations)
    generator = torch.Generator().manual_seed(seed)
    dtype = autocast_dtype(config.precision, device)
    loss_fn = objective.loss
    best: Selected | None = None
    curve: list[tuple[int, float]] = []
    stale = 0
    bar = tqdm(range(total), desc="finetune", leave=False, disable=not progress)
    for step in bar:
        for group in optimizer.param_groups if one_cycle is None else ():
            group["lr"] = schedule(step) * group["lr_scale"]
        if isinstance(records, FlatRecords) and population is not None:
            rows, crops = records.random_crops(population, batch, windows.window, generator)
        else:
            rows, crops = _random_crops(records, batch, windows.window, generator)
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext():
            logits = model(crops)
        loss = loss_fn(logits.float(), labels[rows])
        loss.backward()
        if config.grad_clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        if one_cycle is not None and step + 1 < total:
            one_cycle.step()
        if (step + 1) % eval_every == 0 or step + 1 == total:
            val_scores = _score(model, val[0], windows, device, dtype, objective.output)
            score = objective.score(val[1], val_scores)
            curve.append((step + 1, score))
            bar.set_postfix(val_auroc=f"{score:.3f}")
            if best is None or score > best.auroc:
                best, stale = Selected(score, step + 1, _cpu_state(model), val_scores), 0
            else:
                stale += 1
                if stale >= config.patience:
                    break
            model.train()
    assert best is not None  # the last step always evaluates
    model.load_state_dict(best.state)
    return FinetuneResult(
        val_scores=best.val_scores,
        test_scores=_score(model, test_signals, windows, device, dtype, objective.output),
        best_step=best.step,
        steps=step + 1,
        val_curve=curve,
    )


def _total_steps(n_records: int, batch: int, config: FinetuneConfig) -> int:
    total = max(config.min_steps, config.epochs * math.ceil(n_records / batch))
    return min(total, config.max_steps) if config.max_steps is not None else total


def _optimizer(
    model: Classifier, config: FinetuneConfig, encoder_scale: float, device: torch.device
) -> torch.optim.AdamW:
    groups = []
    for module, scale in ((model.head, 1.0), (model.encoder, encoder_scale)):
        for group in parameter_groups(module, config.weight_decay):
            groups.append({**group, "lr_scale": scale})
    return torch.optim.AdamW(groups, lr=config.lr, fused=device.type == "cuda")


def _one_cycle(
    optimizer: torch.optim.AdamW, config: FinetuneConfig, total: int
) -> torch.optim.lr_scheduler.OneCycleLR:
    """torch's one-cycle policy (fastai's defaults: lr / 25 -> lr -> lr / 25e4, beta1 cycled)
    per parameter group at ``lr * lr_scale``, warming up over ``warmup_fraction``."""
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=[config.lr * group["lr_scale"] for group in optimizer.param_groups],
        total_steps=total,
        pct_start=config.warmup_fraction,
        div_factor=25.0,
        final_div_factor=1e4,
    )


def _place(signals: np.ndarray | Ragged, device: torch.device) -> Tensor | FlatRecords:
    """Training records on ``device``: a tensor, or FlatRecords when their lengths differ
    (records shorter than the window are then never cropped, see bench.training.flat_records)."""
    if isinstance(signals, Ragged):
        return FlatRecords.from_ragged(signals, device)
    return torch.as_tensor(np.asarray(signals), dtype=torch.float32, device=device)


def _random_crops(
    records: Tensor, batch: int, window: int, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """``batch`` random (record, offset) crops of ``window`` samples, drawn with replacement."""
    n_records, n_leads, length = records.shape
    rows = torch.randint(0, n_records, (batch,), generator=generator).to(records.device)
    offsets = torch.randint(0, length - window + 1, (batch,), generator=generator)
    time = offsets.to(records.device)[:, None, None] + torch.arange(window, device=records.device)
    leads = torch.arange(n_leads, device=records.device)[None, :, None]
    return rows, records[rows[:, None, None], leads, time]


@torch.no_grad()
def _score(
    model: Classifier,
    signals: np.ndarray | Ragged,
    windows: WindowedEval,
    device: torch.device,
    dtype: torch.dtype | None,
    output: Callable[[Tensor], Tensor] = torch.sigmoid,
) -> np.ndarray:
    """Per-record outputs: ``output`` of each window (probabilities for the classification
    kinds) aggregated by ``windows.aggregate``."""
    model.eval()

    def probabilities(x: Tensor) -> Tensor:
        with torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext():
            return output(model(x).float())

    return apply_windowed(
        signals,
        probabilities,
        windows.window,
        windows.stride,
        windows.aggregate,
        device,
        windows.batch_size,
    )


def _cpu_state(model: nn.Module) -> dict[str, Tensor]:
    return {name: value.detach().to("cpu", copy=True) for name, value in model.state_dict().items()}
