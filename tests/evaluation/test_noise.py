"""The noise generator: spectra (powerline at 50 Hz, wander below 1 Hz), levels, seeding,
and the refusal of z-scored data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import welch

from bench.errors import ConfigError
from bench.evaluation import noise
from bench.evaluation.noise import check_physical, level_amplitudes, record_noise

RATE = 500


def spectrum(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return welch(x, fs=RATE, nperseg=len(x))


def component(name: str, monkeypatch: pytest.MonkeyPatch) -> np.ndarray:
    """Noise with every other component at zero amplitude."""
    only = {k: (1.0 if k == name else 0.0) for k in ("wander", "motion", "powerline", "shift")}
    monkeypatch.setattr(noise, "level_amplitudes", lambda level: only)
    return record_noise((1, 60 * RATE), RATE, 3, record_id=7)[0]


def test_powerline_peaks_at_50_hz_and_wander_stays_below_1_hz(monkeypatch) -> None:
    f, power = spectrum(component("powerline", monkeypatch))
    assert f[np.argmax(power)] == pytest.approx(50.0, abs=0.1)
    assert power[np.abs(f - 50) <= 0.5].sum() > 0.99 * power.sum()
    f, power = spectrum(component("wander", monkeypatch))
    assert power[f < 1.0].sum() > 0.99 * power.sum()
    f, power = spectrum(component("motion", monkeypatch))
    assert power[f <= 15].sum() > 0.99 * power.sum() and power[f > 1].sum() > 0.5 * power.sum()


def test_levels_amplitudes_and_seeding() -> None:
    assert level_amplitudes(1) == pytest.approx(
        {"wander": 0.05, "motion": 0.25, "powerline": 0.1, "shift": 0.5}
    )
    assert list(level_amplitudes(6).values()) == pytest.approx([0.3, 2.0, 0.5, 3.0])
    with pytest.raises(ConfigError, match="1-6"):
        level_amplitudes(7)
    a = record_noise((12, 5000), RATE, 2, record_id=3, seed=1)
    np.testing.assert_array_equal(a, record_noise((12, 5000), RATE, 2, record_id=3, seed=1))
    assert not np.array_equal(a, record_noise((12, 5000), RATE, 2, record_id=4, seed=1))
    assert np.abs(a).max() <= sum(level_amplitudes(2).values()) + 1e-6
    peak = [np.abs(record_noise((12, 5000), RATE, lv, record_id=3)).max() for lv in (1, 6)]
    assert peak[1] > peak[0]
    with pytest.raises(ConfigError, match="Nyquist"):
        record_noise((1, 1000), 100, 1, record_id=0)


def test_z_scored_data_is_refused_and_mv_data_accepted() -> None:
    rng = np.random.default_rng(0)
    raw = rng.normal(0.2, 0.3, size=(20, 12, 1000)).astype(np.float32)
    check_physical(raw, "cinc2021")
    zscored = (raw - raw.mean(-1, keepdims=True)) / raw.std(-1, keepdims=True)
    with pytest.raises(ConfigError, match="ptbxl: signals are z-scored"):
        check_physical(zscored, "ptbxl")
