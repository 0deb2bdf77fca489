"""Synthetic physiological noise at the six levels of the CPC robustness study (in mV).

Levels (../shared/ANCHORS.md): maximum amplitudes of (baseline wander, electrode motion,
powerline, baseline shift) from (0.05, 0.25, 0.1, 0.5) mV at level 1 to (0.3, 2, 0.5, 3) mV at
level 6; levels 2-5 interpolate linearly (a documented assumption: only the end points are
published). Components, per record and lead, each drawn with amplitude U(0, max):
- baseline wander: a sum of three sinusoids of 0.05-0.5 Hz with random phases (below 1 Hz);
- electrode motion: Gaussian noise low-passed at 10 Hz (4th-order Butterworth, zero phase),
  scaled to its peak amplitude;
- powerline: one sinusoid at ``mains_hz`` (50 Hz by default) with a random phase;
- baseline shift: one step of random sign at a uniformly drawn time.
The generator is seeded by (seed, level, record id), so every method scores identical noisy
records. Amplitudes are in mV: ``check_physical`` refuses z-scored data (such as the PTB-XL
subset), where millivolt amplitudes mean nothing, rather than rescaling it.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, sosfiltfilt

from bench.errors import ConfigError

LEVEL_1 = np.array([0.05, 0.25, 0.1, 0.5])
LEVEL_6 = np.array([0.3, 2.0, 0.5, 3.0])
LEVELS = tuple(range(1, 7))
WANDER_HZ = (0.05, 0.5)
MOTION_CUTOFF_HZ = 10.0
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
    motion = sosfiltfilt(butter(4, MOTION_CUTOFF_HZ, fs=rate, output="sos"), rng.normal(size=shape))
    motion /= np.abs(motion).max(axis=1, keepdims=True)
    powerline = np.sin(2 * np.pi * mains_hz * t + rng.uniform(0, 2 * np.pi, size=(leads, 1)))
    steps = rng.integers(0, length, size=(leads, 1))
    shift = (np.arange(length) >= steps) * rng.choice([-1.0, 1.0], size=(leads, 1))
    parts = {"wander": wander, "motion": motion, "powerline": powerline, "shift": shift}
    total = sum(rng.uniform(0, amplitude[k], size=(leads, 1)) * v for k, v in parts.items())
    return np.asarray(total, dtype=np.float32)


def check_physical(signals: np.ndarray, dataset: str) -> None:
    """ConfigError when ``signals`` [N, leads, T] look z-scored (per record and lead mean ~ 0
    and SD ~ 1 for most of them): millivolt noise levels do not apply to such data."""
    mean, sd = signals.mean(axis=-1), signals.std(axis=-1)
    zscored = (np.abs(mean) < 0.05) & (np.abs(sd - 1) < 0.05)
    if zscored.mean() >= ZSCORED_SHARE:
        raise ConfigError(
            f"{dataset}: signals are z-scored per record and lead, not in mV; the noise "
            "robustness levels are millivolt amplitudes and cannot be applied (use a dataset in "
            "physical units, e.g. prepared from the WFDB records with normalize: none)"
        )
