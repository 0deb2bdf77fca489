"""ECG augmentations for contrastive methods, each a documented choice by name.

Every augmentation maps a batch ``x`` [B, leads, T] sampled at ``rate`` Hz to a batch of the
same shape, with independent random draws per sample from torch's global RNG (on ``x``'s
device). Amplitudes are in the signal's own units (mV for raw records; a z-scored copy such as
the PTB-XL development subset is in standard deviations). Which ones a method applies, and in
what order, is its config's ``augmentations`` tuple; their magnitudes are ``AugmentationConfig``.

From the CPC paper's study (Mehari & Strodthoff, arXiv 2103.12676, appendix; defaults from its
public code, AI4HealthUOL/ecg-selfsupervised): ``random_resized_crop`` and ``time_out`` (its
best pair, SimCLR and BYOL's defaults), ``gaussian_noise``, ``channel_resize``,
``baseline_wander``, ``em_noise``, ``powerline_noise``, ``baseline_shift``. From 3KG (Gopal et
al. 2021): ``vcg_rotate_scale`` (``methods.vcg``) and ``lead_time_mask``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from bench.config import check_range
from bench.errors import ConfigError
from methods.vcg import rotate_and_scale


@dataclass(frozen=True)
class AugmentationConfig:
    """Magnitudes of the named augmentations (defaults: the reference code's, see each).

    - ``crop_ratio`` (random_resized_crop): a crop of a share uniform in this range of the
      input, at a uniform position, stretched back to the full length; (0.5, 1.0).
    - ``crop_resize`` (random_resized_crop): how the crop is stretched back, "random_positions"
      (default, the CPC paper's reference code: the crop's samples are placed, in order, at
      sorted random positions of the output, the positions between them filled by linear
      interpolation and the ends by the nearest sample) or "linear" (evenly spaced linear
      interpolation).
    - ``time_out_ratio`` (time_out): one stretch of a share uniform in this range, at a
      uniform position, set to 0 in every lead; (0.2, 0.4).
    - ``gaussian_std`` (gaussian_noise): white noise of this std; 0.005.
    - ``channel_resize`` (channel_resize): each lead scaled by a factor log-uniform in this
      range; (0.5, 2.0).
    - ``wander_max`` / ``wander_cutoff_hz`` / ``wander_step_hz`` (baseline_wander): C uniform
      in [0, max] times a sum of cosines at k * step Hz, k = 0 .. cutoff / step - 1, with
      amplitudes uniform in [0, 1] and uniform phases, the same in every lead; 0.1, 0.5, 0.01.
    - ``em_max`` (em_noise, electromyographic): white noise of std uniform in [0, max] per
      sample, independent per lead; 0.5.
    - ``powerline_max`` / ``powerline_hz`` / ``powerline_harmonics`` (powerline_noise): C
      uniform in [0, max] times the sum over harmonics k = 1 .. K at or below the Nyquist
      frequency of a_k cos(2 pi k f t + phi), a_k uniform in [0, 1], one phase, each lead
      scaled by a gain uniform in [-1, 1]; 0.2, 50 Hz, 3 (at 100 Hz only the 50 Hz term is
      left). The reference multiplies by C twice (an amplitude of C^2): a documented difference.
    - ``shift_max`` / ``shift_mean_s`` / ``shift_per_s`` (baseline_shift): up to
      ceil(per_s * duration) segments (count uniform from 0) of length normal(mean_s, 0.2
      mean_s) seconds at uniform centres set to a level uniform in [-1, 1] (later ones
      overwrite), times C uniform in [0, max], each lead scaled by a random sign times
      normal(1, 1); 1.0, 3.0 s, 0.3 per s.
    - ``vcg_max_angle_deg`` / ``vcg_max_scale`` (vcg_rotate_scale, 3KG): rotation angles about
      z, y, x uniform in +-45 degrees, axis scales uniform in [1, 1.5] (``methods.vcg``).
    - ``vcg_back`` (vcg_rotate_scale): the matrix back from the VCG to the leads, "pinv"
      (default, 3KG's reference code: the pseudo-inverse of the inverse Dower matrix) or
      "dower" (the published Dower matrix).
    - ``lead_mask_ratio`` (lead_time_mask, 3KG): in each lead independently, floor(ratio * T)
      consecutive samples from a uniform start (wrapping past the end) set to 0; 0.5.
    """

    crop_ratio: tuple[float, float] = (0.5, 1.0)
    crop_resize: Literal["random_positions", "linear"] = "random_positions"
    time_out_ratio: tuple[float, float] = (0.2, 0.4)
    gaussian_std: float = 0.005
    channel_resize: tuple[float, float] = (0.5, 2.0)
    wander_max: float = 0.1
    wander_cutoff_hz: float = 0.5
    wander_step_hz: float = 0.01
    em_max: float = 0.5
    powerline_max: float = 0.2
    powerline_hz: float = 50.0
    powerline_harmonics: int = 3
    shift_max: float = 1.0
    shift_mean_s: float = 3.0
    shift_per_s: float = 0.3
    vcg_max_angle_deg: float = 45.0
    vcg_max_scale: float = 1.5
    vcg_back: Literal["pinv", "dower"] = "pinv"
    lead_mask_ratio: float = 0.5

    def __post_init__(self) -> None:
        where = "augmentation"
        for name, low, high in (
            ("crop_ratio", 1e-3, 1.0),
            ("time_out_ratio", 0.0, 1.0),
            ("channel_resize", 1e-6, None),
        ):
            pair = getattr(self, name)
            check_range(f"{where}.{name}[0]", pair[0], low, high)
            check_range(f"{where}.{name}[1]", pair[1], pair[0], high)
        for name in ("gaussian_std", "wander_max", "em_max", "powerline_max", "shift_max"):
            check_range(f"{where}.{name}", getattr(self, name), 0.0)
        for name in ("wander_cutoff_hz", "wander_step_hz", "powerline_hz", "shift_mean_s"):
            check_range(f"{where}.{name}", getattr(self, name), 1e-9)
        check_range(f"{where}.powerline_harmonics", self.powerline_harmonics, 1)
        check_range(f"{where}.shift_per_s", self.shift_per_s, 0.0)
        check_range(f"{where}.vcg_max_angle_deg", self.vcg_max_angle_deg, 0.0, 180.0)
        check_range(f"{where}.vcg_max_scale", self.vcg_max_scale, 1.0)
        check_range(f"{where}.lead_mask_ratio", self.lead_mask_ratio, 0.0, 1.0)
        for name, choices in (
            ("crop_resize", ("random_positions", "linear")),
            ("vcg_back", ("pinv", "dower")),
        ):
            if getattr(self, name) not in choices:
                raise ConfigError(
                    f"{where}.{name} = {getattr(self, name)!r} is not one of {', '.join(choices)}"
                )


Augmentation = Callable[[Tensor, AugmentationConfig, int], Tensor]


def _uniform(low: float, high: float, *shape: int, like: Tensor) -> Tensor:
    """Uniform draws in [low, high) of ``shape`` on ``like``'s device, float32."""
    return low + (high - low) * torch.rand(*shape, device=like.device)


def _seconds(x: Tensor, rate: int) -> Tensor:
    """Sample times [T] in seconds from the crop's start."""
    return torch.arange(x.shape[-1], device=x.device, dtype=torch.float32) / rate


def random_resized_crop(x: Tensor, config: AugmentationConfig, rate: int) -> Tensor:
    """A random crop (share in ``crop_ratio``) stretched back to T (``crop_resize``)."""
    batch, _, length = x.shape
    crop = (_uniform(*config.crop_ratio, batch, like=x) * length).long().clamp(2, length)
    start = (torch.rand(batch, device=x.device) * (length - crop + 1)).long()
    if config.crop_resize == "random_positions":
        left, right, weight = _random_positions(crop, length, x.device)
    else:
        steps = torch.arange(length, device=x.device, dtype=torch.float32) / max(length - 1, 1)
        position = steps[None] * (crop - 1)[:, None].float()  # [B, T], from the crop's start
        left = position.floor().long().minimum((crop - 2)[:, None])
        right, weight = left + 1, position - left
    index = (start[:, None] + torch.stack([left, right])).unsqueeze(2)  # [2, B, 1, T]
    index = index.expand(-1, -1, x.shape[1], -1)
    weight = weight.to(x.dtype).unsqueeze(1)
    return torch.lerp(x.gather(2, index[0]), x.gather(2, index[1]), weight)


def _random_positions(crop: Tensor, length: int, device: torch.device) -> tuple[Tensor, ...]:
    """For crops of ``crop`` [B] samples placed at sorted random positions of ``length``
    outputs: each output's left and right crop indices [B, T] and interpolation weight."""
    batch = crop.shape[0]
    rank = torch.rand(batch, length, device=device).argsort(1).argsort(1)
    placed = rank < crop[:, None]  # exactly crop[b] positions per row
    time = torch.arange(length, device=device).expand(batch, -1)
    before = placed.long().cumsum(1)  # placed samples at or before each output
    previous = torch.where(placed, time, -1).cummax(1).values
    following = torch.where(placed, time, length).flip(1).cummin(1).values.flip(1)
    weight = (time - previous).float() / (following - previous).clamp(min=1).float()
    weight = torch.where(previous < 0, 1.0, torch.where(following >= length, 0.0, weight))
    last = (crop - 1)[:, None]
    left = (before - 1).clamp(min=0).minimum(last)
    right = before.minimum(last)
    return left, right, weight


def time_out(x: Tensor, config: AugmentationConfig, rate: int) -> Tensor:
    """One stretch (share in ``time_out_ratio``) set to 0 in every lead."""
    batch, _, length = x.shape
    width = (_uniform(*config.time_out_ratio, batch, like=x) * length).long()
    start = (torch.rand(batch, device=x.device) * (length - width + 1)).long()
    time = torch.arange(length, device=x.device)[None]
    hidden = (time >= start[:, None]) & (time < (start + width)[:, None])
    return x.masked_fill(hidden.unsqueeze(1), 0.0)


def gaussian_noise(x: Tensor, config: AugmentationConfig, rate: int) -> Tensor:
    """White noise of std ``gaussian_std``."""
    return x + config.gaussian_std * torch.randn_like(x)


def channel_resize(x: Tensor, config: AugmentationConfig, rate: int) -> Tensor:
    """Each lead times a factor log-uniform in ``channel_resize``."""
    low, high = (math.log(v) for v in config.channel_resize)
    factor = torch.exp(_uniform(low, high, x.shape[0], x.shape[1], 1, like=x))
    return x * factor.to(x.dtype)


def baseline_wander(x: Tensor, config: AugmentationConfig, rate: int) -> Tensor:
    """Low-frequency cosines below ``wander_cutoff_hz``, the same in every lead."""
    batch = x.shape[0]
    terms = max(1, round(config.wander_cutoff_hz / config.wander_step_hz))
    frequency = torch.arange(terms, device=x.device) * config.wander_step_hz  # [K]
    phase = _uniform(0, 2 * math.pi, batch, terms, 1, like=x)
    amplitude = torch.rand(batch, terms, 1, device=x.device)
    waves = torch.cos(2 * math.pi * frequency[None, :, None] * _seconds(x, rate) + phase)
    strength = _uniform(0, config.wander_max, batch, 1, like=x)
    return x + (strength * (amplitude * waves).sum(dim=1)).unsqueeze(1).to(x.dtype)


def em_noise(x: Tensor, config: AugmentationConfig, rate: int) -> Tensor:
    """Electromyographic noise: white, std uniform in [0, ``em_max``] per sample."""
    std = _uniform(0, config.em_max, x.shape[0], 1, 1, like=x).to(x.dtype)
    return x + std * torch.randn_like(x)


def powerline_noise(x: Tensor, config: AugmentationConfig, rate: int) -> Tensor:
    """Mains hum at ``powerline_hz`` and its harmonics up to the Nyquist frequency."""
    batch, leads, _ = x.shape
    harmonics = [
        k for k in range(1, config.powerline_harmonics + 1) if k * config.powerline_hz <= rate / 2
    ]
    if not harmonics:
        return x
    frequency = torch.tensor(harmonics, device=x.device) * config.powerline_hz  # [K]
    phase = _uniform(0, 2 * math.pi, batch, 1, 1, like=x)
    amplitude = torch.rand(batch, len(harmonics), 1, device=x.device)
    waves = torch.cos(2 * math.pi * frequency[None, :, None] * _seconds(x, rate) + phase)
    hum = _uniform(0, config.powerline_max, batch, 1, like=x) * (amplitude * waves).sum(dim=1)
    gain = _uniform(-1, 1, batch, leads, 1, like=x)
    return x + (gain * hum.unsqueeze(1)).to(x.dtype)


def baseline_shift(x: Tensor, config: AugmentationConfig, rate: int) -> Tensor:
    """Piecewise-constant offsets: segments of a few seconds at random levels."""
    batch, leads, length = x.shape
    most = math.ceil(config.shift_per_s * length / rate)
    count = (torch.rand(batch, device=x.device) * (most + 1)).long()
    time = torch.arange(length, device=x.device)[None]
    shift = torch.zeros(batch, length, device=x.device)
    for segment in range(most):
        middle = (torch.rand(batch, device=x.device) * length).long()
        seconds = config.shift_mean_s * (1 + 0.2 * torch.randn(batch, device=x.device))
        half = (0.5 * rate * seconds).long()
        inside = (time >= (middle - half)[:, None]) & (time <= (middle + half)[:, None])
        inside &= (segment < count)[:, None]
        level = _uniform(-1, 1, batch, 1, like=x).expand(-1, length)
        shift = torch.where(inside, level, shift)
    strength = _uniform(0, config.shift_max, batch, 1, 1, like=x)
    sign = torch.randint(0, 2, (batch, leads, 1), device=x.device) * 2 - 1
    gain = sign * (1 + torch.randn(batch, leads, 1, device=x.device))
    return x + (strength * gain * shift.unsqueeze(1)).to(x.dtype)


def vcg_rotate_scale(x: Tensor, config: AugmentationConfig, rate: int) -> Tensor:
    """3KG's spatial view: rotate and scale the vectorcardiogram (12 or 8 leads)."""
    return rotate_and_scale(x, config.vcg_max_angle_deg, config.vcg_max_scale, config.vcg_back)


def lead_time_mask(x: Tensor, config: AugmentationConfig, rate: int) -> Tensor:
    """3KG's temporal view: floor(ratio * T) samples zeroed per lead, circularly."""
    batch, leads, length = x.shape
    width = math.floor(config.lead_mask_ratio * length)
    start = torch.randint(0, length, (batch, leads, 1), device=x.device)
    offset = (torch.arange(length, device=x.device) - start) % length
    return x.masked_fill(offset < width, 0.0)


AUGMENTATIONS: dict[str, Augmentation] = {
    "random_resized_crop": random_resized_crop,
    "time_out": time_out,
    "gaussian_noise": gaussian_noise,
    "channel_resize": channel_resize,
    "baseline_wander": baseline_wander,
    "em_noise": em_noise,
    "powerline_noise": powerline_noise,
    "baseline_shift": baseline_shift,
    "vcg_rotate_scale": vcg_rotate_scale,
    "lead_time_mask": lead_time_mask,
}
"""Every augmentation by the name a config's ``augmentations`` tuple uses."""


def check_augmentations(names: Sequence[str], where: str) -> None:
    """ConfigError for an unknown name in ``names`` (a config's ``augmentations``)."""
    for name in names:
        if name not in AUGMENTATIONS:
            raise ConfigError(
                f"{where}.augmentations: unknown augmentation {name!r}; known: "
                f"{', '.join(AUGMENTATIONS)}"
            )


def augment(x: Tensor, names: Sequence[str], config: AugmentationConfig, rate: int) -> Tensor:
    """``x`` [B, leads, T] at ``rate`` Hz through the named augmentations, in order."""
    for name in names:
        x = AUGMENTATIONS[name](x, config, rate)
    return x
