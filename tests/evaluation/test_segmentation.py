"""Frozen segmentation protocol: windows, the per-step head, the loss, mask assembly, selection
on validation only, and the resampled main metric the leaderboards pair cells on."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from bench.encoders.base import Encoder, InputSpec
from bench.errors import ConfigError
from bench.evaluation.bootstrap import bootstrap_indices
from bench.evaluation.delineation import delineation_metrics
from bench.evaluation.segmentation import (
    SegmentationConfig,
    SegmentationHead,
    Windows,
    assemble_masks,
    frozen_segmentation,
    segmentation_loss,
    selection_score,
)
from bench.evaluation.segmentation_resample import resampled_boundary_f1
from tasks.ludb import delineation_masks
from tests.doubles.segmentation import toy_beats

pytestmark = pytest.mark.numeric


class OneHotMask(Encoder):
    """Features = the input's first four channels pooled over ``stride`` samples: fed a
    one-hot mask, its features say which class each step holds."""

    config_class = dict

    def __init__(self, stride: int):
        super().__init__({}, InputSpec(4, 40, 100))
        self.stride, self.feature_dim, self.embed_dim = stride, 4, 4

    @property
    def feature_stride(self) -> int:
        return self.stride

    def features(self, x: Tensor) -> Tensor:
        return nn.functional.avg_pool1d(x[:, :4], self.stride, ceil_mode=True).transpose(1, 2)

    def embed(self, x: Tensor) -> Tensor:
        return self.features(x).mean(1)


def toy_task(n_records: int = 40, length: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """Signals = one-hot of lead I's mask (4 channels); masks of that one lead [N, 1, T]."""
    _, annotations = toy_beats(n_records, length, n_leads=1)
    masks = delineation_masks(annotations, np.arange(1, n_records + 1), ("I",), length)
    signals = np.eye(4, dtype=np.float32)[np.clip(masks[:, 0], 0, 3).astype(int)]
    return signals.transpose(0, 2, 1).copy(), masks


def test_windows_cover_every_sample_and_end_at_the_record_end() -> None:
    windows = Windows.tile(2, 100, 40, 30)
    assert windows.offsets.tolist() == [0, 30, 60, 0, 30, 60]
    assert windows.rows.tolist() == [0, 0, 0, 1, 1, 1]
    records = np.arange(2 * 3 * 100).reshape(2, 3, 100)
    crops = windows.crop(records)
    assert crops.shape == (6, 3, 40)
    np.testing.assert_array_equal(crops[4], records[1, :, 30:70])
    with pytest.raises(ConfigError, match="shorter than the 40 window"):
        Windows.tile(1, 30, 40, 40)


def test_head_gives_each_feature_step_its_own_block_of_samples() -> None:
    torch.manual_seed(0)
    head = SegmentationHead(feature_dim=3, stride=5, n_leads=2, n_classes=4).eval()
    features = torch.randn(1, 4, 3)
    logits = head(features, 18)
    assert logits.shape == (1, 18, 2, 4)
    changed = features.clone()
    changed[0, 1] += 1.0
    moved = head(changed, 18)
    differs = (moved != logits).any(dim=(0, 2, 3))
    assert differs.tolist() == [False] * 5 + [True] * 5 + [False] * 8  # step 1 = samples 5..9
    with pytest.raises(ConfigError, match="cover 20 samples of a 21-sample window"):
        head(features, 21)


def test_loss_ignores_unscored_samples() -> None:
    torch.manual_seed(0)
    logits = torch.randn(2, 6, 3, 4)
    labels = torch.randint(0, 4, (2, 3, 6))
    labels[0, :, :2] = -1
    scored = labels != -1
    by_sample = logits.permute(0, 2, 1, 3)[scored]  # [n scored, 4]
    expected = nn.functional.cross_entropy(by_sample, labels[scored])
    torch.testing.assert_close(segmentation_loss(logits, labels), expected)


def test_overlapping_windows_average_their_probabilities() -> None:
    windows = Windows(np.array([0, 0]), np.array([0, 2]), 4)
    probs = np.zeros((2, 2, 1, 4), np.float32)
    probs[0, 0], probs[1, 1] = 1.0, 1.0  # window 0 says class 0, window 1 class 1
    probs[1, :, 0, 0] = 0.6, 0.4  # sample 2: class 0 by 1.6 to 0.4
    probs[0, :, 0, 3] = 0.4, 0.6  # sample 3: class 1 by 1.6 to 0.4
    masks = assemble_masks(lambda index: probs[index], windows, 1, 6, batch_size=1)
    assert masks.tolist() == [[[0, 0, 0, 1, 1, 1]]]


@pytest.mark.parametrize("stride", [1, 4])
def test_a_linear_head_on_informative_features_delineates(stride: int) -> None:
    signals, masks = toy_task()
    rows = (np.arange(0, 24), np.arange(24, 32), np.arange(32, 40))
    config = SegmentationConfig(epochs=20, evaluations=2, lr=5e-2, weight_decays=(0.0, 0.1))
    fit = frozen_segmentation(
        OneHotMask(stride),
        (signals, masks),
        rows,
        config,
        (40, 40),
        100,
        "mean_boundary_f1@150",
        torch.device("cpu"),
        seed=0,
    )
    assert fit.report_masks.shape == (8, 1, 300) and fit.report_masks.dtype == np.int8
    score = selection_score(masks[rows[2]], fit.report_masks, 100, "mean_boundary_f1@150")
    assert score > (0.95 if stride == 1 else 0.8)
    details: dict[str, Any] = fit.details
    assert details["best_weight_decay"] in (0.0, 0.1) and details["best_epoch"] in (10, 20)
    curves = details["val_mean_boundary_f1@150_by_weight_decay"]
    assert [epoch for epoch, _ in curves["0.0"]] == [10, 20]
    best = max(score for curve in curves.values() for _, score in curve)
    val_score = selection_score(masks[rows[1]], fit.val_masks, 100, "mean_boundary_f1@150")
    assert val_score == pytest.approx(best)


def test_selection_never_reads_the_report_labels() -> None:
    signals, masks = toy_task()
    rows = (np.arange(0, 24), np.arange(24, 32), np.arange(32, 40))
    config = SegmentationConfig(epochs=6, evaluations=3, weight_decays=(0.0, 0.1))
    garbled = masks.copy()
    garbled[rows[2]] = np.random.default_rng(0).integers(-1, 4, garbled[rows[2]].shape)
    fits = [
        frozen_segmentation(
            OneHotMask(1),
            (signals, m),
            rows,
            config,
            (40, 40),
            100,
            "mean_boundary_f1@150",
            torch.device("cpu"),
            seed=0,
        )
        for m in (masks, garbled)
    ]
    assert fits[0].details == fits[1].details
    np.testing.assert_array_equal(fits[0].report_masks, fits[1].report_masks)


def test_resampled_main_metric_pools_records_as_the_metric_does() -> None:
    _, masks = toy_task(n_records=6, length=300)
    true = masks.astype(np.int64)
    pred = np.clip(np.roll(true, 3, axis=-1), 0, 3)
    pred[2, 0, 100:160] = 0  # a few missed waves in record 2
    indices = np.vstack([np.arange(6), [2, 2, 2, 0, 1, 5], bootstrap_indices(6, 3, seed=1)])
    samples = resampled_boundary_f1(
        "mean_boundary_f1@40", true.reshape(6, -1), pred.reshape(6, -1), indices, 1, 100
    )
    for row, sample in zip(indices, samples, strict=True):
        expected = delineation_metrics(list(true[row, 0]), list(pred[row, 0]), 100, (40,))
        assert sample == pytest.approx(expected["mean_boundary_f1@40"])
    assert samples[0] != samples[1]
