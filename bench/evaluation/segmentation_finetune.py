"""Fine-tuned segmentation: the frozen protocol's head trained together with the encoder.

``SegmentationModel`` is a copy of the encoder with ``bench.evaluation.segmentation``'s
per-step head on its ``features``. Training draws ``batch_size`` random (record, offset) crops
of the unit's window from the labelled fraction, signal and masks together, and minimises the
cross-entropy over scored samples with AdamW (weight decay on weight matrices only) and the
fine-tuning config's warm-up + cosine schedule. Learning rates are discriminative: the head at
``lr``, the encoder at ``lr * encoder_lr_scale`` (1.0 for an encoder trained from scratch).
The run lasts ``epochs`` passes over the labelled records but at least ``min_steps`` steps
(capped by ``max_steps``); the validation main metric (e.g. ``mean_boundary_f1@150``) is
measured ``evaluations`` times, the best state is kept, and training stops after
``patience`` evaluations without improvement. ``FinetuneConfig.head``, ``schedule`` and the
MLP head fields do not apply to this kind: the head is always the linear per-step head.
"""

from __future__ import annotations

import copy
import math
from contextlib import nullcontext

import numpy as np
import torch
from torch import Tensor, nn

from bench.encoders.base import Encoder
from bench.evaluation.config import FinetuneConfig
from bench.evaluation.layer_decay import scaled_groups
from bench.evaluation.segmentation import (
    SegmentationFit,
    SegmentationHead,
    Windows,
    assemble_masks,
    class_probabilities,
    segmentation_loss,
    selection_score,
)
from bench.task import SEGMENTATION_CLASSES
from bench.training.config import autocast_dtype
from bench.training.optim import WarmupCosine


class SegmentationModel(nn.Module):
    """An encoder with the per-step segmentation head: [B, leads, T] -> [B, T, leads, C]."""

    def __init__(self, encoder: Encoder, n_leads: int, n_classes: int):
        super().__init__()
        self.encoder = encoder
        self.head = SegmentationHead(
            encoder.feature_dim, encoder.feature_stride, n_leads, n_classes
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.encoder.features(x), x.shape[-1])


def finetune_segmentation(
    encoder: Encoder,
    data: tuple[np.ndarray, np.ndarray],
    rows: tuple[np.ndarray, np.ndarray, np.ndarray],
    config: FinetuneConfig,
    window: tuple[int, int],
    sampling_rate: int,
    main_metric: str,
    device: torch.device,
    seed: int,
    encoder_lr_scale: float | None = None,
    batch_size: int = 256,
) -> SegmentationFit:
    """Train a copy of ``encoder`` + head on ``rows[0]``, keep the best state on ``rows[1]``,
    predict ``rows[2]`` once at the end; ``data`` = (signals, masks), both [N, leads, T];
    ``window`` = (window, evaluation stride) in samples."""
    torch.manual_seed(seed)
    signals, masks = data
    length = signals.shape[-1]
    model = SegmentationModel(copy.deepcopy(encoder), masks.shape[1], len(SEGMENTATION_CLASSES))
    model = model.to(device).train()
    model.encoder.requires_grad_(True)
    scale = config.encoder_lr_scale if encoder_lr_scale is None else encoder_lr_scale
    groups = scaled_groups(model.head, config.weight_decay, 1.0)
    groups += scaled_groups(model.encoder, config.weight_decay, scale, config.layer_decay)
    optimizer = torch.optim.AdamW(groups, lr=config.lr)
    train_x = torch.as_tensor(signals[rows[0]], dtype=torch.float32, device=device)
    train_y = torch.as_tensor(masks[rows[0]], dtype=torch.long, device=device)
    batch = min(config.batch_size, len(train_x))
    total = max(config.min_steps, config.epochs * math.ceil(len(train_x) / batch))
    total = min(total, config.max_steps) if config.max_steps is not None else total
    schedule = WarmupCosine(config.lr, 0.0, round(config.warmup_fraction * total), total)
    eval_every = max(1, total // config.evaluations)
    generator = torch.Generator().manual_seed(seed)
    dtype = autocast_dtype(config.precision, device)
    evaluate = [Windows.tile(len(r), length, *window) for r in rows]
    best: tuple[float, int, dict[str, Tensor], np.ndarray] | None = None
    curve: list[tuple[int, float]] = []
    stale = 0
    for step in range(total):
        for group in optimizer.param_groups:
            group["lr"] = schedule(step) * group["lr_scale"]
        crops = _random_windows(len(train_x), length, window[0], batch, generator)
        x, y = _crop(train_x, crops), _crop(train_y, crops)
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext():
            logits = model(x)
        segmentation_loss(logits.float(), y).backward()
        if config.grad_clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        if (step + 1) % eval_every and step + 1 != total:
            continue
        val_masks = _predict(model, signals[rows[1]], evaluate[1], device, dtype, batch_size)
        score = selection_score(masks[rows[1]], val_masks, sampling_rate, main_metric)
        curve.append((step + 1, score))
        if best is None or score > best[0]:
            best, stale = (score, step + 1, copy.deepcopy(model.state_dict()), val_masks), 0
        else:
            stale += 1
            if stale >= config.patience:
                break
        model.train()
    assert best is not None  # the last step always evaluates
    model.load_state_dict(best[2])
    report = _predict(model, signals[rows[2]], evaluate[2], device, dtype, batch_size)
    details = {"best_step": best[1], "steps": step + 1, "val_curve": curve}
    return SegmentationFit(best[3], report, details)


def _random_windows(
    n_records: int, length: int, window: int, batch: int, generator: torch.Generator
) -> Windows:
    rows = torch.randint(0, n_records, (batch,), generator=generator).numpy()
    offsets = torch.randint(0, length - window + 1, (batch,), generator=generator).numpy()
    return Windows(rows.astype(np.int64), offsets.astype(np.int64), window)


def _crop(records: Tensor, windows: Windows) -> Tensor:
    """[N, leads, T] tensor -> [batch, leads, window] crops at ``windows``."""
    device = records.device
    rows = torch.as_tensor(windows.rows, device=device)[:, None, None]
    time = torch.as_tensor(windows.offsets, device=device)[:, None, None] + torch.arange(
        windows.window, device=device
    )
    leads = torch.arange(records.shape[1], device=device)[None, :, None]
    return records[rows, leads, time]


@torch.no_grad()
def _predict(
    model: SegmentationModel,
    signals: np.ndarray,
    windows: Windows,
    device: torch.device,
    dtype: torch.dtype | None,
    batch_size: int,
) -> np.ndarray:
    model.eval()

    def probabilities(index: np.ndarray) -> np.ndarray:
        part = Windows(windows.rows[index], windows.offsets[index], windows.window)
        x = torch.as_tensor(part.crop(signals), dtype=torch.float32, device=device)
        with torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext():
            logits = model(x)
        return class_probabilities(logits)

    return assemble_masks(probabilities, windows, len(signals), signals.shape[-1], batch_size)
