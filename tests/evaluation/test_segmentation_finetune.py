"""Fine-tuned segmentation: it learns, keeps the best validation state, never selects on the
report rows, and trains the encoder at the discriminative learning rate."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

import bench.evaluation.segmentation_finetune as module
from bench.encoders.base import InputSpec
from bench.encoders.unet1d import UNet1d
from bench.evaluation.config import FinetuneConfig
from bench.evaluation.segmentation import selection_score
from bench.evaluation.segmentation_finetune import finetune_segmentation
from tasks.ludb import delineation_masks
from tests.doubles.segmentation import toy_beats

pytestmark = pytest.mark.numeric

CONFIG = FinetuneConfig(
    epochs=1,
    min_steps=60,
    evaluations=3,
    patience=3,
    batch_size=16,
    lr=1e-2,
    weight_decay=0.0,
    warmup_fraction=0.0,
)
ROWS = (np.arange(0, 24), np.arange(24, 32), np.arange(32, 40))


def toy(length: int = 300) -> tuple[np.ndarray, np.ndarray]:
    signals, annotations = toy_beats(40, length, n_leads=2)
    masks = delineation_masks(annotations, np.arange(1, 41), ("I", "II"), length)
    return signals, masks


def unet() -> UNet1d:
    torch.manual_seed(0)
    return UNet1d.from_size("tiny", InputSpec(2, 60, 100), width=8, depth=2)


def run(masks: np.ndarray, signals: np.ndarray, **changes: object) -> module.SegmentationFit:
    config = dataclasses.replace(CONFIG, **changes)
    return finetune_segmentation(
        unet(),
        (signals, masks),
        ROWS,
        config,
        (60, 60),
        100,
        "mean_boundary_f1@150",
        torch.device("cpu"),
        seed=0,
        encoder_lr_scale=1.0,
    )


def test_a_unet_learns_the_toy_waves_and_keeps_its_best_validation_state() -> None:
    signals, masks = toy()
    fit = run(masks, signals)
    assert fit.report_masks.shape == (8, 2, 300)
    assert selection_score(masks[ROWS[2]], fit.report_masks, 100, "mean_boundary_f1@150") > 0.8
    curve = fit.details["val_curve"]
    assert [step for step, _ in curve] == [20, 40, 60] and fit.details["steps"] == 60
    best_step, best = max(curve, key=lambda point: point[1])
    assert fit.details["best_step"] == best_step
    val = selection_score(masks[ROWS[1]], fit.val_masks, 100, "mean_boundary_f1@150")
    assert val == pytest.approx(best)


def test_report_labels_never_change_the_selected_state() -> None:
    signals, masks = toy(length=120)
    garbled = masks.copy()
    garbled[ROWS[2]] = 0
    fits = [run(m, signals, min_steps=6) for m in (masks, garbled)]
    assert fits[0].details == fits[1].details
    np.testing.assert_array_equal(fits[0].report_masks, fits[1].report_masks)


def test_the_encoder_learns_at_the_scaled_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[tuple[float, float]]] = []

    class Recording(torch.optim.AdamW):
        def step(self, closure=None):  # type: ignore[no-untyped-def, override]
            seen.append([(g["lr"], g["lr_scale"]) for g in self.param_groups])
            return super().step(closure)

    monkeypatch.setattr(module.torch.optim, "AdamW", Recording)
    signals, masks = toy(length=120)
    encoder = unet()
    finetune_segmentation(
        encoder,
        (signals, masks),
        ROWS,
        dataclasses.replace(CONFIG, min_steps=3),
        (60, 60),
        100,
        "mean_boundary_f1@150",
        torch.device("cpu"),
        seed=0,
        encoder_lr_scale=0.1,
    )
    scales = {scale for _, scale in seen[0]}
    assert scales == {1.0, 0.1}
    for lr, scale in seen[-1]:
        head_lr = next(lr_ for lr_, s in seen[-1] if s == 1.0)
        assert lr == pytest.approx(head_lr * scale)
    assert all(p.grad is None for p in encoder.parameters())  # the caller's encoder is a copy
