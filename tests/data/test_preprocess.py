"""Preprocessing options: resampling, lead subsets, band-pass, normalisation, fingerprints."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from scipy import signal as sps

from bench.config import from_dict
from bench.data.formats.ragged import Ragged
from bench.data.preprocess import Preprocessing, apply_preprocessing, resample
from bench.data.signals import CANONICAL_LEADS, INDEPENDENT_LEADS, SignalSet
from bench.errors import ConfigError, DataError

RATE = 100
N_SAMPLES = 1000
FOLDS = np.array([1, 2, 3, 4, 5, 6, 7, 8] * 2 + [9, 9, 10, 10])


def signal_set(signals: np.ndarray, leads=CANONICAL_LEADS, folds=FOLDS) -> SignalSet:
    n = len(signals)
    meta = pd.DataFrame(
        {"record_id": np.arange(n), "patient_id": np.arange(n) // 2, "fold": folds[:n]}
    )
    return SignalSet(
        name="toy",
        signals=signals.astype(np.float32),
        meta=meta,
        sampling_rate=RATE,
        lead_names=tuple(leads),
        fingerprint="raw",
        tables={"extra": pd.DataFrame({"a": [1]})},
    )


def sinusoids(*components: tuple[float, float], n: int = len(FOLDS), leads: int = 12):
    """Sum of (frequency Hz, amplitude) sinusoids, the same in every record and lead."""
    t = np.arange(N_SAMPLES) / RATE
    wave = sum(a * np.sin(2 * np.pi * f * t) for f, a in components)
    return np.broadcast_to(wave, (n, leads, N_SAMPLES)).copy()


def random_set(seed: int = 0) -> SignalSet:
    rng = np.random.default_rng(seed)
    scale = rng.uniform(0.5, 3, (len(FOLDS), 12, 1))
    return signal_set(rng.normal(1.0, 1.0, (len(FOLDS), 12, N_SAMPLES)) * scale)


def middle(x: np.ndarray) -> np.ndarray:
    """The central 60 % of the time axis (away from filter edge effects)."""
    length = x.shape[-1]
    return x[..., length // 5 : length - length // 5]


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x))))


@pytest.mark.parametrize("method", ["poly", "fft"])
@pytest.mark.parametrize("target", [250, 50])
def test_resampling_gives_rate_length_and_keeps_a_slow_sinusoid(method, target):
    data = signal_set(sinusoids((1.0, 1.0)))
    out = apply_preprocessing(data, Preprocessing(rate=target, resample=method))
    assert out.sampling_rate == target
    assert out.signals.shape == (len(FOLDS), 12, 10 * target) and out.signals.dtype == np.float32
    expected = np.sin(2 * np.pi * 1.0 * np.arange(10 * target) / target)
    assert np.abs(middle(out.signals) - middle(expected)).max() < 0.01


def test_eight_leads_are_chosen_by_name_in_any_stored_order():
    stored = CANONICAL_LEADS[::-1]
    values = np.array([CANONICAL_LEADS.index(lead) for lead in stored], dtype=np.float32)
    data = signal_set(np.broadcast_to(values[None, :, None], (4, 12, N_SAMPLES)), leads=stored)
    out = apply_preprocessing(data, Preprocessing(leads="8"))
    assert out.lead_names == INDEPENDENT_LEADS == ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")
    np.testing.assert_array_equal(out.signals[0, :, 0], [0, 1, 6, 7, 8, 9, 10, 11])
    twelve = apply_preprocessing(data, Preprocessing(rate=RATE))
    assert twelve.lead_names == CANONICAL_LEADS
    np.testing.assert_array_equal(twelve.signals[0, :, 0], np.arange(12))


def test_the_one_lead_set_is_lead_i_chosen_by_name():
    stored = CANONICAL_LEADS[::-1]
    values = np.array([1 + CANONICAL_LEADS.index(lead) for lead in stored], dtype=np.float32)
    data = signal_set(np.broadcast_to(values[None, :, None], (4, 12, N_SAMPLES)), leads=stored)
    out = apply_preprocessing(data, Preprocessing(leads="1"))
    assert out.lead_names == ("I",) and out.signals.shape == (4, 1, N_SAMPLES)
    np.testing.assert_array_equal(out.signals[:, 0, :], 1)


def test_missing_lead_for_the_subset_is_a_config_error():
    leads = tuple(lead for lead in CANONICAL_LEADS if lead != "V3")
    data = signal_set(np.zeros((4, 11, N_SAMPLES)), leads=leads)
    with pytest.raises(ConfigError, match=r"toy.*leads=8.*V3"):
        apply_preprocessing(data, Preprocessing(leads="8"))


def test_bandpass_keeps_in_band_and_removes_out_of_band_sinusoids():
    options = Preprocessing(bandpass=(1.0, 30.0))
    kept = apply_preprocessing(signal_set(sinusoids((5.0, 1.0))), options).signals
    np.testing.assert_allclose(middle(kept), middle(sinusoids((5.0, 1.0))), atol=0.02)
    for frequency in (0.1, 45.0):
        removed = apply_preprocessing(signal_set(sinusoids((frequency, 1.0))), options).signals
        assert rms(middle(removed)) < 0.05 * rms(middle(sinusoids((frequency, 1.0))))
    mixed = apply_preprocessing(signal_set(sinusoids((5.0, 1.0), (45.0, 1.0))), options)
    np.testing.assert_allclose(middle(mixed.signals), middle(sinusoids((5.0, 1.0))), atol=0.05)


def test_low_edge_zero_is_a_low_pass_that_keeps_the_mean():
    data = signal_set(sinusoids((45.0, 1.0)) + 2.0)
    out = apply_preprocessing(data, Preprocessing(bandpass=(0.0, 20.0))).signals
    np.testing.assert_allclose(middle(out), 2.0, atol=0.05)


def test_bandpass_edge_at_or_above_nyquist_is_a_config_error():
    with pytest.raises(ConfigError, match="50"):
        apply_preprocessing(signal_set(sinusoids((1.0, 1.0))), Preprocessing(bandpass=(0.5, 50)))


def test_record_normalisation_gives_zero_mean_unit_std_per_record_and_lead():
    data = random_set()
    data.signals[3, 5] = 7.0  # a flat lead stays finite (zero)
    out = apply_preprocessing(data, Preprocessing(normalize="record")).signals
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out[3, 5], 0.0)
    others = np.ones(out.shape[:2], dtype=bool)
    others[3, 5] = False
    np.testing.assert_allclose(out.mean(axis=-1)[others], 0.0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=-1)[others], 1.0, atol=1e-4)


def test_train_normalisation_uses_training_folds_only():
    data = random_set()
    out = apply_preprocessing(data, Preprocessing(normalize="train")).signals
    train = np.flatnonzero(FOLDS <= 8)
    np.testing.assert_allclose(out[train].mean(axis=(0, 2)), 0.0, atol=1e-4)
    np.testing.assert_allclose(out[train].std(axis=(0, 2)), 1.0, atol=1e-4)
    changed_test = data.signals.copy()
    changed_test[FOLDS == 10] += 100.0
    out_test = apply_preprocessing(signal_set(changed_test), Preprocessing(normalize="train"))
    np.testing.assert_array_equal(out_test.signals[train], out[train])
    changed_train = data.signals.copy()
    changed_train[0] += 100.0
    out_train = apply_preprocessing(signal_set(changed_train), Preprocessing(normalize="train"))
    assert not np.allclose(out_train.signals[1], out[1])


def test_train_all_normalisation_is_one_scaler_over_every_lead_of_the_training_folds():
    """The PTB-XL benchmark's scaler: one mean and std, so the leads keep their differences;
    a ragged set of equal-length records gets the same values as the array."""
    rng = np.random.default_rng(1)
    raw = rng.normal(0.0, 1.0, (len(FOLDS), 12, N_SAMPLES)) + np.arange(12)[None, :, None]
    out = apply_preprocessing(signal_set(raw), Preprocessing(normalize="train_all")).signals
    train = np.flatnonzero(FOLDS <= 8)
    assert abs(out[train].mean()) < 1e-4 and abs(out[train].std() - 1.0) < 1e-4
    lead_means = out[train].mean(axis=(0, 2))
    assert np.all(np.diff(lead_means) > 0.2)  # per-lead offsets survive ("train" removes them)
    ragged = signal_set(raw)
    ragged = SignalSet(
        "toy", Ragged.from_records(list(raw.astype(np.float32)), 12), ragged.meta, RATE,
        CANONICAL_LEADS, "raw",
    )  # fmt: skip
    from_ragged = apply_preprocessing(ragged, Preprocessing(normalize="train_all")).signals
    np.testing.assert_allclose(from_ragged.record(3), out[3], atol=1e-5)


@pytest.mark.parametrize("normalize", ["record", "train", "train_all"])
def test_a_flat_lead_stays_zero_after_normalisation(normalize: str) -> None:
    """A constant lead (an electrode off) is flat, not noise blown up by a rounding std."""
    raw = np.random.default_rng(0).normal(0.0, 1.0, (len(FOLDS), 12, 5000)).astype(np.float32)
    raw[:, 3] = 0.3  # over 5,000 float32 samples its float32 std is about 3e-8, not 0
    out = apply_preprocessing(signal_set(raw), Preprocessing(normalize=normalize)).signals
    if normalize == "train_all":
        assert np.ptp(out[:, 3]) == 0  # one scaler for all leads: constant, not zero
    else:
        assert not out[:, 3].any()


def test_train_normalisation_without_training_records_is_a_data_error():
    data = signal_set(np.ones((4, 12, N_SAMPLES)), folds=np.array([9, 9, 10, 10]))
    with pytest.raises(DataError, match=r"toy.*training"):
        apply_preprocessing(data, Preprocessing(normalize="train"))


def test_fingerprint_changes_with_every_option_and_metadata_is_kept():
    data = random_set()
    variants = [
        Preprocessing(rate=250),
        Preprocessing(rate=250, resample="fft"),
        Preprocessing(leads="8"),
        Preprocessing(bandpass=(0.5, 40.0)),
        Preprocessing(bandpass=(0.5, 40.0), bandpass_order=2),
        Preprocessing(bandpass=(0.5, 30.0)),
        Preprocessing(normalize="record"),
        Preprocessing(normalize="train"),
    ]
    outputs = [apply_preprocessing(data, options) for options in variants]
    prints = [out.fingerprint for out in outputs]
    assert len(set(prints)) == len(variants) and "raw" not in prints
    assert apply_preprocessing(data, Preprocessing(normalize="train")).fingerprint == prints[-1]
    assert apply_preprocessing(data, Preprocessing()) is data
    assert all(out.meta is data.meta and out.tables is data.tables for out in outputs)
    assert len({options.key() for options in variants}) == len(variants)


@pytest.mark.parametrize(
    "options, where",
    [
        ({"rate": 0}, "rate"),
        ({"bandpass": (5.0, 1.0)}, "bandpass"),
        ({"bandpass": (-1.0, 5.0)}, "bandpass"),
        ({"bandpass_order": 0}, "bandpass_order"),
        ({"bandpass_order": 11}, "bandpass_order"),
        ({"leads": "7"}, "leads"),
        ({"normalize": "zscore"}, "normalize"),
        ({"resample": "cubic"}, "resample"),
    ],
)
def test_bad_options_are_config_errors(options, where):
    with pytest.raises(ConfigError, match=where):
        Preprocessing(**options)
    with pytest.raises(ConfigError, match=where):
        from_dict(Preprocessing, options, "preprocessing")


def test_unknown_option_is_a_config_error_with_a_hint():
    with pytest.raises(ConfigError, match="did you mean 'rate'"):
        from_dict(Preprocessing, {"rates": 250}, "preprocessing")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("rate", "target"), [(500, 100), (257, 100), (1000, 500), (100, 250)])
def test_poly_resampling_equals_scipys_default_to_the_bit(dtype, rate: int, target: int) -> None:
    signals = np.random.default_rng(0).standard_normal((2, 3, 1000)).astype(dtype)
    ratio = Fraction(target, rate)
    expected = sps.resample_poly(signals, ratio.numerator, ratio.denominator, axis=-1)
    np.testing.assert_array_equal(
        resample(signals, rate, target, "poly"), expected.astype(np.float32)
    )


def test_linear_resampling_keeps_both_ends_and_interpolates_between() -> None:
    ramp = np.arange(11, dtype=np.float32)[None, None] * 2.0  # 0, 2, ..., 20 over 11 samples
    out = resample(ramp, 10, 20, "linear")
    assert out.shape == (1, 1, 22)
    np.testing.assert_allclose(out[0, 0, [0, -1]], [0.0, 20.0])
    np.testing.assert_allclose(np.diff(out[0, 0]), 20.0 / 21, rtol=1e-5)
