"""Frozen segmentation protocol: a linear per-feature-step head on an encoder's ``features``.

Records [N, leads, T] are cut into windows of the unit's window every ``stride`` samples (the
last window ends at the record's end, so every sample is covered). The head
(``SegmentationHead``) standardises each feature step (batch norm without affine, as the linear
probe's head) and maps it with one Linear layer to ``feature_stride x leads x classes`` logits:
the steps' blocks side by side give logits at the input's sample rate for every lead; they are
cropped to the window. Window class probabilities are averaged where windows overlap and the
arg-max is the predicted mask. Training: AdamW on cross-entropy over the labelled samples of the
labelled fraction's windows (label ``UNSCORED`` is ignored), for each weight decay of
``SegmentationConfig.weight_decays``; the (weight decay, epoch) with the best validation main
metric (``bench.evaluation.delineation``, e.g. ``mean_boundary_f1@150``) is kept; ties keep
the smaller decay, then the earlier epoch. The encoder stays frozen: its features are computed
once per window.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from bench.config import check_range
from bench.encoders.base import Encoder
from bench.errors import ConfigError
from bench.evaluation.delineation import delineation_metrics
from bench.task import SEGMENTATION_CLASSES, UNSCORED


@dataclass(frozen=True)
class SegmentationConfig:
    """The frozen head's training: ``epochs`` over the labelled windows in batches of
    ``batch_size`` at ``lr`` (AdamW), validated ``evaluations`` times (evenly spaced epochs),
    once per weight decay of ``weight_decays`` (the strength grid)."""

    epochs: int = 30
    evaluations: int = 5
    lr: float = 1e-2
    weight_decays: tuple[float, ...] = (0.0, 1e-2, 1e-1)
    batch_size: int = 64

    def __post_init__(self) -> None:
        check_range("evaluation.segmentation.epochs", self.epochs, 1)
        check_range("evaluation.segmentation.evaluations", self.evaluations, 1)
        check_range("evaluation.segmentation.lr", self.lr, 1e-12)
        check_range("evaluation.segmentation.batch_size", self.batch_size, 1)
        if not self.weight_decays:
            raise ConfigError("evaluation.segmentation.weight_decays must list at least one")
        for value in self.weight_decays:
            check_range("evaluation.segmentation.weight_decays", value, 0)


@dataclass(frozen=True)
class Windows:
    """Windows of ``window`` samples: window i is record ``rows[i]`` from ``offsets[i]``."""

    rows: np.ndarray
    offsets: np.ndarray
    window: int

    @classmethod
    def tile(cls, n_records: int, length: int, window: int, stride: int) -> Windows:
        """Every ``stride`` samples, plus one ending at the record's end where needed."""
        if length < window:
            raise ConfigError(f"records of {length} samples are shorter than the {window} window")
        starts = list(range(0, length - window + 1, stride))
        if starts[-1] != length - window:
            starts.append(length - window)
        offsets = np.tile(np.asarray(starts, dtype=np.int64), n_records)
        rows = np.repeat(np.arange(n_records, dtype=np.int64), len(starts))
        return cls(rows, offsets, window)

    def crop(self, arrays: np.ndarray) -> np.ndarray:
        """[N, leads, T] -> the windows' crops [n_windows, leads, window]."""
        time = self.offsets[:, None] + np.arange(self.window)
        return arrays[
            self.rows[:, None, None], np.arange(arrays.shape[1])[None, :, None], time[:, None, :]
        ]


class SegmentationHead(nn.Module):
    """Batch norm (no affine) + Linear(feature_dim -> stride * leads * classes) per step."""

    def __init__(self, feature_dim: int, stride: int, n_leads: int, n_classes: int):
        super().__init__()
        self.stride, self.n_leads, self.n_classes = stride, n_leads, n_classes
        self.norm = nn.BatchNorm1d(feature_dim, affine=False)
        self.linear = nn.Linear(feature_dim, stride * n_leads * n_classes)

    def forward(self, features: Tensor, length: int) -> Tensor:
        """[B, T', D] -> logits [B, length, leads, classes] (the first ``length`` samples;
        time before leads and classes last, so the steps' blocks are a view)."""
        batch, steps, _ = features.shape
        h = self.linear(self.norm(features.transpose(1, 2)).transpose(1, 2))
        h = h.reshape(batch, steps * self.stride, self.n_leads, self.n_classes)
        if h.shape[1] < length:
            raise ConfigError(f"features cover {h.shape[1]} samples of a {length}-sample window")
        return h[:, :length]


def segmentation_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Cross-entropy of logits [B, T, leads, C] against masks [B, leads, T] over the scored
    samples (labels ``UNSCORED`` ignored)."""
    by_class = logits.permute(0, 3, 2, 1).contiguous()  # [B, C, leads, T]: torch's fast path
    return nn.functional.cross_entropy(by_class, labels.long(), ignore_index=UNSCORED)


def class_probabilities(logits: Tensor) -> np.ndarray:
    """Softmax of logits [B, T, leads, C] as a numpy array [B, C, leads, T]."""
    return torch.softmax(logits.float(), dim=-1).permute(0, 3, 2, 1).cpu().numpy()


def assemble_masks(
    probabilities: Callable[[np.ndarray], np.ndarray],
    windows: Windows,
    n_records: int,
    length: int,
    batch_size: int,
) -> np.ndarray:
    """Predicted masks int8 [N, leads, T]: ``probabilities`` of window indices ([n] -> [n,
    classes, leads, window]) averaged where windows overlap, then the arg-max class."""
    total: np.ndarray | None = None
    for start in range(0, len(windows.rows), batch_size):
        index = np.arange(start, min(start + batch_size, len(windows.rows)))
        probs = probabilities(index)
        if total is None:
            total = np.zeros((n_records, probs.shape[1], probs.shape[2], length), np.float32)
        for k, i in enumerate(index):
            offset = windows.offsets[i]
            total[windows.rows[i], :, :, offset : offset + windows.window] += probs[k]
    assert total is not None
    return total.argmax(axis=1).astype(np.int8)


def selection_score(true: np.ndarray, pred: np.ndarray, sampling_rate: int, metric: str) -> float:
    """The main delineation ``metric`` (e.g. ``mean_boundary_f1@150``) of masks [N, leads, T]
    pooled over every (record, lead) pair, at that metric's tolerance only."""
    tolerance = int(metric.rsplit("@", 1)[1])
    pairs_true = list(np.asarray(true).reshape(-1, true.shape[-1]).astype(np.int64))
    pairs_pred = list(np.asarray(pred).reshape(-1, pred.shape[-1]).astype(np.int64))
    return delineation_metrics(pairs_true, pairs_pred, sampling_rate, (tolerance,))[metric]


@dataclass(frozen=True)
class SegmentationFit:
    """Predicted masks of the selected model on validation and on the report rows."""

    val_masks: np.ndarray
    report_masks: np.ndarray
    details: dict[str, Any]


@torch.no_grad()
def window_features(
    encoder: Encoder,
    signals: np.ndarray,
    windows: Windows,
    device: torch.device,
    batch_size: int,
) -> Tensor:
    """Frozen ``features`` of every window, on the CPU: [n_windows, T', D]."""
    encoder = encoder.to(device).eval()
    out = []
    for start in range(0, len(windows.rows), batch_size):
        part = Windows(
            windows.rows[start : start + batch_size],
            windows.offsets[start : start + batch_size],
            windows.window,
        )
        x = torch.as_tensor(part.crop(signals), dtype=torch.float32, device=device)
        out.append(encoder.features(x).float().cpu())
    return torch.cat(out)


def frozen_segmentation(
    encoder: Encoder,
    data: tuple[np.ndarray, np.ndarray],
    rows: tuple[np.ndarray, np.ndarray, np.ndarray],
    config: SegmentationConfig,
    window: tuple[int, int],
    sampling_rate: int,
    main_metric: str,
    device: torch.device,
    seed: int,
    batch_size: int = 256,
) -> SegmentationFit:
    """Train the head on ``rows[0]`` (labelled fraction), select on ``rows[1]``, predict
    ``rows[2]``; ``data`` = (signals [N, leads, T], masks [N, leads, T]); ``window`` = (window,
    stride) in samples."""
    signals, masks = data
    length, n_classes = signals.shape[-1], len(SEGMENTATION_CLASSES)
    splits = [Windows.tile(len(r), length, *window) for r in rows]
    feats = [
        window_features(encoder, signals[r], w, device, batch_size)
        for r, w in zip(rows, splits, strict=True)
    ]
    train_y = torch.as_tensor(splits[0].crop(masks[rows[0]]), dtype=torch.long)
    best: tuple[float, float, int, dict[str, Tensor]] | None = None
    by_decay: dict[str, list[tuple[int, float]]] = {}
    per_check = max(1, config.epochs // config.evaluations)
    for decay in config.weight_decays:
        torch.manual_seed(seed)
        head = SegmentationHead(
            encoder.feature_dim, encoder.feature_stride, masks.shape[1], n_classes
        ).to(device)
        optimizer = torch.optim.AdamW(head.parameters(), lr=config.lr, weight_decay=decay)
        generator = torch.Generator().manual_seed(seed)
        curve = by_decay.setdefault(str(decay), [])
        for epoch in range(1, config.epochs + 1):
            head.train()
            order = torch.randperm(len(train_y), generator=generator)
            for start in range(0, len(order), config.batch_size):
                index = order[start : start + config.batch_size]
                optimizer.zero_grad(set_to_none=True)
                logits = head(feats[0][index].to(device), window[0])
                segmentation_loss(logits, train_y[index].to(device)).backward()
                optimizer.step()
            if epoch % per_check and epoch != config.epochs:
                continue
            pred = _predict(head, feats[1], splits[1], len(rows[1]), length, window[0], device)
            score = selection_score(masks[rows[1]], pred, sampling_rate, main_metric)
            curve.append((epoch, score))
            if best is None or score > best[0]:
                best = (score, decay, epoch, copy.deepcopy(head.state_dict()))
    assert best is not None
    head.load_state_dict(best[3])
    predicted = [
        _predict(head, feats[k], splits[k], len(rows[k]), length, window[0], device) for k in (1, 2)
    ]
    details = {
        "best_weight_decay": best[1],
        "best_epoch": best[2],
        f"val_{main_metric}_by_weight_decay": by_decay,
    }
    return SegmentationFit(predicted[0], predicted[1], details)


@torch.no_grad()
def _predict(
    head: SegmentationHead,
    features: Tensor,
    windows: Windows,
    n_records: int,
    length: int,
    window: int,
    device: torch.device,
) -> np.ndarray:
    head.eval()

    def probabilities(index: np.ndarray) -> np.ndarray:
        return class_probabilities(head(features[torch.as_tensor(index)].to(device), window))

    return assemble_masks(probabilities, windows, n_records, length, 256)
