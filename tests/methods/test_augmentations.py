"""ECG augmentations: each checked on its physical effect (duration, amplitude, spectrum)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from bench.config import from_dict
from bench.errors import ConfigError
from methods.augmentations import AUGMENTATIONS, AugmentationConfig, augment, check_augmentations


def config(**fields: object) -> AugmentationConfig:
    return from_dict(AugmentationConfig, fields)


def sine(hz: float, rate: int, seconds: float, batch: int = 8, leads: int = 3) -> Tensor:
    """A unit sine at ``hz`` in every lead, [batch, leads, seconds * rate]."""
    t = torch.arange(round(seconds * rate), dtype=torch.float64) / rate
    return torch.sin(2 * math.pi * hz * t).expand(batch, leads, -1).clone()


def power_spectrum(x: Tensor, rate: int) -> tuple[Tensor, Tensor]:
    """(frequencies [F] in Hz, power [..., F]) of the last axis."""
    power = torch.fft.rfft(x, dim=-1).abs().square()
    return torch.fft.rfftfreq(x.shape[-1], 1 / rate), power


def dominant_hz(x: Tensor, rate: int) -> Tensor:
    """The frequency of the strongest non-zero bin, per row of the last axis."""
    freqs, power = power_spectrum(x - x.mean(dim=-1, keepdim=True), rate)
    return freqs[power.argmax(dim=-1)]


def test_every_augmentation_keeps_shape_and_dtype() -> None:
    torch.manual_seed(0)
    x = torch.randn(4, 12, 250)
    for name, function in AUGMENTATIONS.items():
        out = function(x, AugmentationConfig(), 100)
        assert out.shape == x.shape and out.dtype == x.dtype, name
        assert torch.isfinite(out).all(), name


def test_random_resized_crop_stretches_time_by_the_crop_ratio() -> None:
    torch.manual_seed(0)
    x = sine(2.0, 100, 10.0)  # 1,000 samples
    out = AUGMENTATIONS["random_resized_crop"](x, config(crop_ratio=[0.5, 0.5]), 100)
    assert (dominant_hz(out, 100) == 1.0).all()  # 5 s of a 2 Hz sine stretched over 10 s
    # a crop of the whole input changes nothing
    same = AUGMENTATIONS["random_resized_crop"](x, config(crop_ratio=[1.0, 1.0]), 100)
    torch.testing.assert_close(same, x)


def test_time_out_zeroes_one_stretch_of_the_configured_duration_in_every_lead() -> None:
    torch.manual_seed(0)
    x = torch.ones(64, 3, 200)
    out = AUGMENTATIONS["time_out"](x, config(time_out_ratio=[0.2, 0.4]), 100)
    zero = out == 0
    assert (zero == zero[:, :1]).all()  # the same stretch in every lead
    length = zero[:, 0].sum(dim=1)
    assert length.min() >= 40 and length.max() <= 80 and length.unique().numel() > 5
    starts = (zero[:, 0, 1:] & ~zero[:, 0, :-1]).sum(dim=1) + zero[:, 0, 0].long()
    assert (starts == 1).all()  # one contiguous stretch


def test_gaussian_and_em_noise_are_white_with_their_amplitudes() -> None:
    torch.manual_seed(0)
    x = torch.zeros(256, 2, 1000, dtype=torch.float64)
    gauss = AUGMENTATIONS["gaussian_noise"](x, config(gaussian_std=0.05), 100)
    assert gauss.std().item() == pytest.approx(0.05, rel=0.01)
    em = AUGMENTATIONS["em_noise"](x, config(em_max=0.5), 100)
    per_sample = em.std(dim=(1, 2))
    assert per_sample.max() <= 0.5 * 1.05 and per_sample.min() < 0.05
    assert per_sample.mean().item() == pytest.approx(0.25, rel=0.1)  # std uniform in [0, 0.5]
    for noise in (gauss, em):
        _, power = power_spectrum(noise, 100)
        low, high = power[..., 1:250].mean(), power[..., 250:500].mean()
        assert high / low == pytest.approx(1.0, abs=0.05)  # flat spectrum


def test_channel_resize_scales_each_lead_by_one_factor_in_range() -> None:
    torch.manual_seed(0)
    x = sine(1.0, 100, 2.0, batch=64, leads=12) + 2.0
    out = AUGMENTATIONS["channel_resize"](x, config(channel_resize=[0.5, 2.0]), 100)
    ratio = out / x
    assert torch.allclose(ratio, ratio[..., :1].expand_as(ratio))
    assert ratio.min() >= 0.5 - 1e-9 and ratio.max() <= 2.0 + 1e-9
    assert (ratio[..., 0] < 0.7).any() and (ratio[..., 0] > 1.4).any()


def test_baseline_wander_is_below_its_cutoff_and_the_same_in_every_lead() -> None:
    torch.manual_seed(0)
    x = torch.zeros(16, 3, 20_000, dtype=torch.float64)  # 200 s at 100 Hz: 0.005 Hz bins
    wander = AUGMENTATIONS["baseline_wander"](x, config(wander_cutoff_hz=0.5), 100)
    assert (wander == wander[:, :1]).all()
    freqs, power = power_spectrum(wander[:, 0], 100)
    assert power[:, freqs > 0.5].sum() / power.sum() < 0.01
    assert wander.abs().amax() <= 0.1 * 50  # C <= wander_max, 50 cosines of amplitude <= 1


def test_powerline_noise_sits_at_the_mains_frequency_and_its_harmonics() -> None:
    torch.manual_seed(0)
    x = torch.zeros(8, 3, 500, dtype=torch.float64)  # 1 s at 500 Hz: 1 Hz bins
    hum = AUGMENTATIONS["powerline_noise"](x, config(powerline_hz=50.0), 500)
    freqs, power = power_spectrum(hum, 500)
    mains = (freqs == 50) | (freqs == 100) | (freqs == 150)
    assert power[..., ~mains].sum() < 1e-9 * power.sum()
    assert hum.abs().amax() <= 0.2 * 3  # C <= powerline_max, 3 harmonics of amplitude <= 1
    # at 100 Hz only the 50 Hz fundamental is at or below the Nyquist frequency
    low_rate = AUGMENTATIONS["powerline_noise"](torch.zeros(8, 3, 100), AugmentationConfig(), 100)
    freqs, power = power_spectrum(low_rate.double(), 100)
    assert power[..., freqs != 50].sum() < 1e-6 * power.sum()


def test_baseline_shift_adds_steps_of_bounded_level() -> None:
    torch.manual_seed(0)
    x = torch.zeros(256, 2, 1000)  # 10 s at 100 Hz: at most 3 segments
    shift = AUGMENTATIONS["baseline_shift"](x, config(shift_max=1.0, shift_mean_s=3.0), 100)
    jumps = (shift.diff(dim=-1).abs() > 1e-6).sum(dim=-1)
    assert jumps.max() <= 6  # piecewise constant: each segment starts and ends once
    assert (jumps > 0).any() and (shift.abs().amax(dim=(1, 2)) == 0).any()  # 0 .. 3 segments
    nonzero = shift != 0
    assert (nonzero == nonzero[:, :1]).all()  # the same segments in every lead


def test_lead_time_mask_zeroes_half_of_each_lead_from_its_own_start() -> None:
    torch.manual_seed(0)
    x = torch.ones(32, 12, 251)
    out = AUGMENTATIONS["lead_time_mask"](x, config(lead_mask_ratio=0.5), 100)
    zeros = (out == 0).sum(dim=-1)
    assert (zeros == 125).all()  # floor(0.5 * 251) per lead
    masked = (out == 0).float()
    assert (masked != masked[:, :1]).any(dim=(1, 2)).all()  # leads start independently


def test_augment_applies_the_names_in_order_and_unknown_names_are_refused() -> None:
    x = torch.ones(2, 3, 100)
    torch.manual_seed(3)
    chained = augment(x, ("channel_resize", "time_out"), AugmentationConfig(), 100)
    torch.manual_seed(3)
    by_hand = AUGMENTATIONS["time_out"](
        AUGMENTATIONS["channel_resize"](x, AugmentationConfig(), 100), AugmentationConfig(), 100
    )
    torch.testing.assert_close(chained, by_hand)
    with pytest.raises(ConfigError, match=r"unknown augmentation 'time_warp'.*random_resized_crop"):
        check_augmentations(("time_out", "time_warp"), "simclr")
    with pytest.raises(ConfigError, match=r"augmentation.crop_ratio"):
        config(crop_ratio=[0.9, 0.5])
