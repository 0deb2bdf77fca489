"""Synthetic physiological noise at the six levels of the CPC robustness study (in mV).

Levels (Mehari & Strodthoff, arXiv 2103.12676, robustness to physiological noise): maximum
amplitudes of (baseline wander, electrode motion, powerline, baseline shift) from
(0.05, 0.25, 0.1, 0.5) mV at level 1 to (0.3, 2, 0.5, 3) mV at level 6; levels 2-5
interpolate linearly (a documented assumption: only the end points are published).
Components, per record and lead, each drawn with amplitude U(0, max):
- baseline wander: a sum of three sinusoids of 0.05-0.5 Hz with random phases (below 1 Hz);
- electrode motion: Gaussian noise low-passed at 10 Hz (4th-order Butterworth, zero phase),
  scaled to its peak amplitude;
- powerline: one sinusoid at ``mains_hz`` (50 Hz by default) with a random phase;
- baseline shift: one step of random sign at a uniformly drawn time.
The generator is seeded by (seed, level, record id), so every method scores identical noisy
records. ``acquired_noise`` draws a record's noise at ``ACQUISITION_HZ`` (500 Hz, the rate
12-lead ECGs are recorded at) and brings it to the data's rate with the polyphase resampler of
the preprocessing (anti-aliased), so records stored at different rates receive the same noise,
band-limited to their rate: at 100 Hz (Nyquist 50 Hz) 50 Hz mains keeps about half its
amplitude, as in a 100 Hz recording derived from a 500 Hz one. Amplitudes are in mV:
``check_physical`` refuses z-scored data (such as the PTB-XL subset), where millivolt
amplitudes mean nothing, rather than rescaling it.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from functools import lru_cache

import numpy as np
from scipy.signal import butter, resample_poly, sosfiltfilt

from bench.data.preprocess import poly_filter
from bench.errors import ConfigError

LEVEL_1 = np.array([0.05, 0.25, 0.1, 0.5])
LEVEL_6 = np.array([0.3, 2.0, 0.5, 3.0])
LEVELS = tuple(range(1, 7))
WANDER_HZ = (0.05, 0.5)
MOTION_CUTOFF_HZ = 10.0
ACQUISITION_HZ = 500
ZSCORED_SHARE = 0.95  # share of record-leads with mean ~ 0 and SD ~ 1 that marks z-scored data


def level_amplitudes(level: int) -> dict[str, float]:
    """Maximum amplitude (mV) of each component at ``level`` (1-6)."""
    if level not in LEVELS:
        raise ConfigError(f"noise level must be one of 1-6, got {level}")
    values = LEVEL_1 + (LEVEL_6 - LEVEL_1) * (level - 1) / 5
    return dict(zip(("wander", "motion", "powerline", "shift"), values.tolist(), strict=True))


def record_noise(
    shape: tuple[int, int],
    rate: float,
    level: int,
    record_id: int,
    seed: int = 0,
    mains_hz: float = 50.0,
) -> np.ndarray:
    """Noise float32 [leads, T] (mV) for one record, identical for identical arguments."""
    leads, length = shape
    if mains_hz >= rate / 2:
        raise ConfigError(f"powerline {mains_hz} Hz is above the Nyquist rate of {rate} Hz data")
    amplitude = level_amplitudes(level)
    rng = np.random.default_rng([seed, level, record_id])
    t = np.arange(length) / rate
    frequencies = rng.uniform(*WANDER_HZ, size=(leads, 3, 1))
    phases = rng.uniform(0, 2 * np.pi, size=(leads, 3, 1))
    wander = np.sin(2 * np.pi * frequencies * t + phases).sum(axis=1) / 3
    motion = sosfiltfilt(_motion_filter(rate), rng.normal(size=shape))
    motion /= np.abs(motion).max(axis=1, keepdims=True)
    powerline = np.sin(2 * np.pi * mains_hz * t + rng.uniform(0, 2 * np.pi, size=(leads, 1)))
    steps = rng.integers(0, length, size=(leads, 1))
    shift = (np.arange(length) >= steps) * rng.choice([-1.0, 1.0], size=(leads, 1))
    parts = {"wander": wander, "motion": motion, "powerline": powerline, "shift": shift}
    total = sum(rng.uniform(0, amplitude[k], size=(leads, 1)) * v for k, v in parts.items())
    return np.asarray(total, dtype=np.float32)


def acquired_noise(
    shape: tuple[int, int],
    rate: int,
    level: int,
    record_id: int,
    seed: int = 0,
    mains_hz: float = 50.0,
) -> np.ndarray:
    """Noise float32 [leads, T] (mV) for a record of ``shape`` at ``rate`` Hz: drawn at
    ``ACQUISITION_HZ`` over the record's duration and resampled to ``rate`` (see above)."""
    leads, length = shape
    if rate == ACQUISITION_HZ:
        return record_noise(shape, rate, level, record_id, seed, mains_hz)
    ratio = Fraction(rate, ACQUISITION_HZ)
    drawn = max(1, round(length * ACQUISITION_HZ / rate))
    noise = record_noise((leads, drawn), ACQUISITION_HZ, level, record_id, seed, mains_hz)
    window = poly_filter(ratio.numerator, ratio.denominator, "<f8")
    out = resample_poly(noise.astype(np.float64), ratio.numerator, ratio.denominator, axis=-1,
                        window=window)  # fmt: skip
    if out.shape[-1] < length:
        out = np.pad(out, ((0, 0), (0, length - out.shape[-1])), mode="edge")
    return np.ascontiguousarray(out[:, :length], dtype=np.float32)


@lru_cache(maxsize=8)
def _motion_filter(rate: float) -> np.ndarray:
    """The electrode-motion low-pass (second-order sections) at ``rate`` Hz, designed once."""
    return butter(4, MOTION_CUTOFF_HZ, fs=rate, output="sos")


def check_physical(signals: np.ndarray | Sequence[np.ndarray], dataset: str) -> None:
    """ConfigError when ``signals`` (records [leads, T], or an [N, leads, T] array) look
    z-scored (per record and lead mean ~ 0 and SD ~ 1 for most of them): millivolt noise levels
    do not apply to such data."""
    if not len(signals):
        return
    mean = np.concatenate([np.asarray(x).mean(axis=-1).ravel() for x in signals])
    sd = np.concatenate([np.asarray(x).std(axis=-1).ravel() for x in signals])
    zscored = (np.abs(mean) < 0.05) & (np.abs(sd - 1) < 0.05)
    if zscored.mean() >= ZSCORED_SHARE:
        raise ConfigError(
            f"{dataset}: signals are z-scored per record and lead, not in mV; the noise "
            "robustness levels (evaluation.noise.levels) are millivolt amplitudes and cannot be "
            "applied to this dataset: leave evaluation.noise.levels empty for it, or use a "
            "dataset stored in physical units (mV)"
        )
