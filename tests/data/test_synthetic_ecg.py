"""The synthetic 12-lead generator: shapes, determinism, lead physics, and labels that the
signals really carry (each target is recovered from the signal by one simple measurement)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy.signal import find_peaks
from sklearn.metrics import roc_auc_score

from bench.data.signals import CANONICAL_LEADS, INDEPENDENT_LEADS
from bench.data.synthetic.config import GeneratorConfig
from bench.data.synthetic.generator import LABEL_NAMES, SyntheticECG, generate
from bench.errors import ConfigError

INDEPENDENT = [CANONICAL_LEADS.index(lead) for lead in INDEPENDENT_LEADS]
CLEAN = GeneratorConfig(
    n_records=300, seed=1, sampling_rate=500, noise_mv=0.0, baseline_wander_mv=0.0
)


@pytest.fixture(scope="module")
def clean() -> SyntheticECG:
    return generate(CLEAN)


@pytest.fixture(scope="module")
def features(clean: SyntheticECG) -> dict[str, np.ndarray]:
    return measure(clean)


def lead(data: SyntheticECG, name: str) -> np.ndarray:
    return data.signals[:, CANONICAL_LEADS.index(name)]


def measure(data: SyntheticECG) -> dict[str, np.ndarray]:
    """Per record, from clean signals: mean heart rate, RR variation, QRS width (ms), largest
    |ST level| over the 12 leads at J + 40 ms (J placed with the record's QRS duration), and
    lead II's mean level before each QRS."""
    fs = data.sampling_rate
    features: dict[str, list[float]] = {k: [] for k in ("hr", "rr_cv", "qrs", "st", "p")}
    for x, qrs_ms in zip(data.signals, data.params["qrs_ms"], strict=True):
        curvature = np.square(np.diff(x[INDEPENDENT], n=2, axis=1)).sum(axis=0)
        peaks = 1 + find_peaks(curvature, height=0.35 * curvature.max(), distance=fs // 4)[0]
        peaks = peaks[(peaks > 0.3 * fs) & (peaks < x.shape[1] - 0.3 * fs)]
        rr = np.diff(peaks) / fs
        features["hr"].append(60 / rr.mean())
        features["rr_cv"].append(rr.std() / rr.mean())
        widths, st, before = [], [], []
        for peak in peaks:
            window = curvature[peak - 1 - int(0.15 * fs) : peak - 1 + int(0.15 * fs)]
            above = np.flatnonzero(window > 0.02 * window.max())
            widths.append((above[-1] - above[0]) / fs * 1000)
            st.append(x[:, peak + int((0.55 * qrs_ms / 1000 + 0.04) * fs)])
            before.append(x[1, peak - int(0.3 * fs) : peak - int(0.06 * fs)].mean())
        features["qrs"].append(np.median(widths))
        features["st"].append(np.abs(np.median(st, axis=0)).max())
        features["p"].append(np.median(before))
    return {key: np.asarray(values) for key, values in features.items()}


def test_shapes_types_and_tables():
    data = generate(GeneratorConfig(n_records=37, seed=2))
    assert data.signals.shape == (37, 12, 1000) and data.signals.dtype == np.float32
    assert np.isfinite(data.signals).all()
    assert data.lead_names == CANONICAL_LEADS and data.sampling_rate == 100
    assert tuple(data.labels.columns) == LABEL_NAMES and len(data.labels) == 37
    assert set(np.unique(data.labels.to_numpy())) <= {0, 1}
    assert len(data.params) == 37 and "hr_bpm" in data.params
    assert 0.05 < np.abs(data.signals).max() < 10  # mV, not z-scores or raw ADC units


def test_same_seed_same_output_other_seed_other_output():
    config = GeneratorConfig(n_records=300, seed=5)  # more than one synthesis chunk
    first, again = generate(config), generate(config)
    np.testing.assert_array_equal(first.signals, again.signals)
    assert first.labels.equals(again.labels) and first.params.equals(again.params)
    other = generate(replace(config, seed=6))
    assert not np.allclose(first.signals, other.signals)


def test_einthoven_and_goldberger_relations_hold_exactly():
    data = generate(GeneratorConfig(n_records=20, seed=3, powerline_mv=0.05))
    i, ii = lead(data, "I"), lead(data, "II")
    np.testing.assert_array_equal(lead(data, "III"), ii - i)
    np.testing.assert_array_equal(lead(data, "aVR"), -(i + ii) / 2)
    np.testing.assert_array_equal(lead(data, "aVL"), i - ii / 2)
    np.testing.assert_array_equal(lead(data, "aVF"), ii - i / 2)
    np.testing.assert_allclose(
        lead(data, "aVR") + lead(data, "aVL") + lead(data, "aVF"), 0, atol=1e-5
    )


def test_precordial_r_wave_progression(clean):
    chest = clean.signals[:, CANONICAL_LEADS.index("V1") :]
    r_height = np.median(chest.max(axis=-1), axis=0)
    s_depth = np.median(-chest.min(axis=-1), axis=0)
    assert (np.diff(r_height) > 0).all()  # R grows from V1 to V6
    assert s_depth[0] > 2 * r_height[0] and r_height[5] > 2 * s_depth[5]  # rS in V1, qR in V6


def test_prevalences_are_between_10_and_35_percent_and_labels_co_occur():
    labels = generate(GeneratorConfig(n_records=3000, seed=0)).labels
    prevalence = labels.mean()
    assert ((prevalence > 0.10) & (prevalence < 0.35)).all(), prevalence
    assert not (labels["bradycardia"] & labels["tachycardia"]).any()
    assert (labels["irregular_rhythm"] & labels["wide_qrs"]).any()
    assert (labels["st_shift"] & labels["tachycardia"]).any()


def test_each_label_is_recovered_from_the_signal(clean, features):
    """One signal measurement per label separates positives from negatives almost perfectly."""
    labels = clean.labels
    assert roc_auc_score(labels["bradycardia"], -features["hr"]) > 0.98
    assert roc_auc_score(labels["tachycardia"], features["hr"]) > 0.98
    assert roc_auc_score(labels["irregular_rhythm"], features["rr_cv"]) > 0.98
    assert roc_auc_score(labels["wide_qrs"], features["qrs"]) > 0.98
    assert roc_auc_score(labels["st_shift"], features["st"]) > 0.97


def test_measured_rate_matches_the_parameter_in_sinus_rhythm(clean, features):
    params = clean.params
    sinus = ~params["af"].to_numpy()
    error = np.abs(features["hr"][sinus] / params["hr_bpm"].to_numpy()[sinus] - 1)
    assert np.median(error) < 0.01 and error.max() < 0.05


def test_irregular_rhythm_has_no_p_waves(clean, features):
    params = clean.params
    af = params["af"].to_numpy()
    assert (params["p_mv"][af] == 0).all() and (params["p_mv"][~af] > 0).all()
    slow = clean.labels["tachycardia"].to_numpy() == 0  # fast rates hide P waves in T waves
    assert roc_auc_score(~af[slow], features["p"][slow]) > 0.9


def test_noise_wander_and_powerline_are_what_the_options_say():
    base = GeneratorConfig(n_records=40, seed=4, sampling_rate=500, noise_mv=0.0)
    base = replace(base, baseline_wander_mv=0.0)
    clean = generate(base).signals[:, INDEPENDENT]
    noise = generate(replace(base, noise_mv=0.05)).signals[:, INDEPENDENT] - clean
    assert noise.std(axis=-1).min() > 0.025 and noise.std(axis=-1).max() < 0.08
    lag_one = (noise[..., 1:] * noise[..., :-1]).mean() / noise.var()
    assert abs(lag_one) < 0.05  # white
    wander = generate(replace(base, baseline_wander_mv=0.2)).signals[:, INDEPENDENT] - clean
    power = np.abs(np.fft.rfft(wander, axis=-1)) ** 2
    frequencies = np.fft.rfftfreq(wander.shape[-1], 1 / 500)
    assert power[..., frequencies <= 1.0].sum() > 0.95 * power.sum()
    mains = generate(replace(base, powerline_mv=0.1)).signals[:, INDEPENDENT] - clean
    spectrum = np.abs(np.fft.rfft(mains, axis=-1)).mean(axis=(0, 1))
    assert frequencies[spectrum.argmax()] == pytest.approx(50.0)


def test_records_of_one_patient_share_chronic_findings():
    data = generate(GeneratorConfig(n_records=400, seed=8, repeat_fraction=0.3))
    patient = data.params["patient_index"]
    assert patient.value_counts().max() == 2 and patient.duplicated().sum() > 50
    chronic = data.params[["qrs_ms", "st_max_mv", "qrs_axis_deg"]].join(
        data.labels[["wide_qrs", "st_shift"]]
    )
    assert (chronic.groupby(patient).nunique() == 1).all().all()


@pytest.mark.parametrize(
    "field, value",
    [("n_records", 0), ("sampling_rate", 10), ("duration_s", 0.5), ("noise_mv", -0.1)],
)
def test_bad_config_is_a_config_error(field, value):
    with pytest.raises(ConfigError, match=field):
        GeneratorConfig(**{field: value})
