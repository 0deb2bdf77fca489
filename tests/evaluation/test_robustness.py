"""Noise robustness inputs: noise added to the stored records before the method's
preprocessing, the same for every preprocessing, refused on z-scored data; per-level metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.data.formats.ragged import Ragged
from bench.data.preprocess import Preprocessing, apply_preprocessing
from bench.data.signals import CANONICAL_LEADS, SignalSet
from bench.errors import ConfigError
from bench.evaluation import noise
from bench.evaluation.noise import acquired_noise, record_noise
from bench.evaluation.robustness import NoiseConfig, level_metrics, noisy_records

RATE = 100


def stored(n: int = 30, length: int = 1000, ragged: bool = False, seed: int = 0) -> SignalSet:
    """Records in mV (a beat-like 1 Hz wave plus noise), folds cycling 1-10."""
    rng = np.random.default_rng(seed)
    t = np.arange(length) / RATE
    signals = 0.8 * np.sin(2 * np.pi * t) + 0.1 * rng.standard_normal((n, 12, length)) + 0.3
    signals = signals.astype(np.float32)
    meta = pd.DataFrame(
        {"record_id": np.arange(n) + 100, "patient_id": np.arange(n), "fold": np.arange(n) % 10 + 1}
    )
    data: np.ndarray | Ragged = signals
    if ragged:
        data = Ragged.from_records(
            [s[:, : length - 7 * (i % 3)] for i, s in enumerate(signals)], 12
        )
    return SignalSet("mv-data", data, meta, RATE, CANONICAL_LEADS, "f" * 16)


def test_noise_is_drawn_at_500_hz_and_band_limited_to_the_data_rate() -> None:
    np.testing.assert_array_equal(
        acquired_noise((12, 5000), 500, 3, 7, seed=2), record_noise((12, 5000), 500, 3, 7, seed=2)
    )
    at_100 = acquired_noise((12, 1000), 100, 3, 7, seed=2)
    at_500 = record_noise((12, 5000), 500, 3, 7, seed=2)
    assert at_100.shape == (12, 1000) and at_100.dtype == np.float32
    slow = at_500.reshape(12, 1000, 5).mean(-1)  # the same noise, averaged to 100 Hz
    assert np.corrcoef(slow.ravel(), at_100.ravel())[0, 1] > 0.9


@pytest.mark.parametrize("ragged", [False, True])
@pytest.mark.parametrize(
    "preprocessing",
    [
        Preprocessing(rate=RATE),
        Preprocessing(rate=250, normalize="train", bandpass=(0.5, 40)),
        Preprocessing(normalize="train_all"),
    ],
)
def test_zero_noise_gives_the_clean_preprocessed_records_exactly(
    ragged: bool, preprocessing: Preprocessing, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = stored(ragged=ragged)
    zero = {"wander": 0.0, "motion": 0.0, "powerline": 0.0, "shift": 0.0}
    monkeypatch.setattr(noise, "level_amplitudes", lambda level: zero)
    test = data.split_indices("test")
    ids = data.meta["record_id"].to_numpy()[test][::-1]  # any order: rows follow the ids
    out = noisy_records(data, ids, preprocessing, NoiseConfig(levels=(2,))).signals[2]
    clean = apply_preprocessing(data, preprocessing).signals
    for i, row in enumerate(test[::-1]):
        expected = clean.record(int(row)) if ragged else clean[row]
        got = out.record(i) if ragged else out[i]
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_the_noise_depends_on_record_level_and_seed_not_on_the_preprocessing() -> None:
    data = stored()
    ids = data.meta["record_id"].to_numpy()[data.split_indices("test")]
    config = NoiseConfig(levels=(1, 6))
    shared = noisy_records(data, ids, Preprocessing(rate=RATE), config)
    native = noisy_records(data, ids, Preprocessing(rate=250, normalize="record"), config)
    assert dict(shared.digests) == dict(native.digests)  # the same noisy records for both
    assert shared.digests[1] != shared.digests[6]
    other = noisy_records(data, ids, Preprocessing(rate=RATE), NoiseConfig(levels=(1,), seed=1))
    assert other.digests[1] != shared.digests[1]
    rows = data.split_indices("test")
    added = shared.signals[6] - np.asarray(data.signals)[rows]
    expected = acquired_noise((12, 1000), RATE, 6, int(ids[0]))
    np.testing.assert_allclose(added[0], expected, atol=1e-5)
    assert np.abs(added).max() > 1.0  # level 6: millivolts of noise on millivolt signals


def test_z_scored_data_is_refused_naming_the_dataset_and_the_option() -> None:
    data = stored()
    signals = np.asarray(data.signals)
    z = (signals - signals.mean(-1, keepdims=True)) / signals.std(-1, keepdims=True)
    zscored = SignalSet("ptbxl", z.astype(np.float32), data.meta, RATE, CANONICAL_LEADS, "z" * 16)
    ids = data.meta["record_id"].to_numpy()[:3]
    with pytest.raises(ConfigError, match=r"ptbxl: .*z-scored.*evaluation\.noise\.levels"):
        noisy_records(zscored, ids, Preprocessing(rate=RATE), NoiseConfig(levels=(1,)))


def test_noise_config_is_checked() -> None:
    assert not NoiseConfig().enabled and NoiseConfig(levels=(3,)).enabled
    with pytest.raises(ConfigError, match=r"evaluation\.noise\.levels: 7"):
        NoiseConfig(levels=(7,))
    with pytest.raises(ConfigError, match="twice"):
        NoiseConfig(levels=(2, 2))
    with pytest.raises(ConfigError, match="mains_hz"):
        NoiseConfig(levels=(1,), mains_hz=300.0)


def test_level_metrics_follow_the_task_kind() -> None:
    rng = np.random.default_rng(0)
    labels = (rng.random((60, 3)) < 0.5).astype(np.float32)
    perfect, flipped = labels + 0.01 * rng.random((60, 3)), 1 - labels
    metrics, ci = level_metrics("multilabel", "macro_auroc", labels, {1: perfect, 6: flipped},
                                (50, 0, 0.9))  # fmt: skip
    assert metrics["noise_metric"] == "macro_auroc"
    assert metrics["noise_level_1"] == pytest.approx(1.0) and metrics["noise_level_6"] == 0.0
    assert ci["noise_level_1"][0] == pytest.approx(1.0)
    targets = rng.normal(60, 10, (60, 1)).astype(np.float32)
    metrics, ci = level_metrics("regression", "mae", targets, {3: targets + 2.0}, (50, 0, 0.9))
    assert metrics["noise_level_3"] == pytest.approx(2.0, abs=1e-5)
    assert ci["noise_level_3"] == pytest.approx([2.0, 2.0], abs=1e-5)
