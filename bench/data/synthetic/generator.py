"""Fast, seeded, vectorised generator of synthetic 12-lead ECGs with multi-label targets.

Parameters are drawn here (per patient and per record); bench.data.synthetic.beats turns them
into signals: P, Q, R, S, T waves and an ST plateau, each with a 3-D cardiac dipole direction,
projected onto the lead vectors (limb leads derived from I and II, so Einthoven's and
Goldberger's relations hold exactly), plus noise and baseline wander. Amplitudes are in mV.

Chronic findings (QRS width, ST shift, morphology) belong to a patient and are shared by all of
that patient's records; rhythm, rate and noise belong to a record. Targets come from the
generating parameters: bradycardia (rate < 60 bpm), tachycardia (> 100 bpm), irregular rhythm
(AF-like: irregular RR, no P waves, fibrillatory waves), wide QRS (> 120 ms) and ST shift
(|ST deviation| >= 0.1 mV in at least one of the 12 leads).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.data.signals import CANONICAL_LEADS
from bench.data.synthetic.beats import LEAD_VECTORS_12, synthesise
from bench.data.synthetic.config import GeneratorConfig

GENERATOR_VERSION = "1"
LABEL_NAMES: tuple[str, ...] = (
    "bradycardia",
    "tachycardia",
    "irregular_rhythm",
    "wide_qrs",
    "st_shift",
)
ST_THRESHOLD_MV = 0.1
WIDE_QRS_MS = 120.0
CHUNK_RECORDS = 256  # records synthesised at once; part of the generator's definition


@dataclass(frozen=True)
class SyntheticECG:
    """Generated records: signals [N, 12, T] float32 (mV), targets and generating parameters."""

    signals: np.ndarray
    labels: pd.DataFrame  # one uint8 column per name in LABEL_NAMES
    params: pd.DataFrame  # one row per record, patient_index first
    sampling_rate: int
    lead_names: tuple[str, ...] = CANONICAL_LEADS


def generate(config: GeneratorConfig | None = None) -> SyntheticECG:
    """Generate ``config.n_records`` records; the same config always gives identical output."""
    config = config or GeneratorConfig()
    seeds = np.random.SeedSequence([config.seed, 0x5EC6]).spawn(2)
    params = _sample_parameters(np.random.default_rng(seeds[0]), config)
    signals = np.empty((config.n_records, 12, config.n_samples), dtype=np.float32)
    starts = range(0, config.n_records, CHUNK_RECORDS)
    for start, seed in zip(starts, seeds[1].spawn(len(starts)), strict=True):
        rows = slice(start, min(start + CHUNK_RECORDS, config.n_records))
        chunk = {key: value[rows] for key, value in params.items()}
        synthesise(chunk, np.random.default_rng(seed), config, out=signals[rows])
    return SyntheticECG(
        signals=signals,
        labels=_labels(params),
        params=_parameter_table(params),
        sampling_rate=config.sampling_rate,
    )


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def _direction(
    rng: np.random.Generator, mean: tuple[float, float, float], spread: float, n: int
) -> np.ndarray:
    """``n`` unit vectors [n, 3] scattered around ``mean``."""
    return _unit(np.asarray(mean) / np.linalg.norm(mean) + spread * rng.standard_normal((n, 3)))


def _patients(rng: np.random.Generator, config: GeneratorConfig) -> np.ndarray:
    """Patient index of every record; ``repeat_fraction`` of the patients have two records."""
    n_patients = max(1, math.ceil(config.n_records / (1 + config.repeat_fraction)))
    n_patients = min(n_patients, config.n_records)
    repeats = rng.choice(n_patients, config.n_records - n_patients, replace=False)
    return rng.permutation(np.concatenate([np.arange(n_patients), repeats]))


def _sample_parameters(rng: np.random.Generator, config: GeneratorConfig) -> dict[str, np.ndarray]:
    """Every generating parameter, one row per record (patient-level ones repeated)."""
    patient = _patients(rng, config)
    n_patients = int(patient.max()) + 1
    wide = rng.random(n_patients) < 0.15
    qrs_s = np.where(
        wide, rng.uniform(0.125, 0.18, n_patients), rng.uniform(0.07, 0.11, n_patients)
    )
    axis = np.deg2rad(np.clip(rng.normal(45.0, 25.0, n_patients), -45.0, 120.0))
    r_dir = _unit(
        np.stack([np.cos(axis), np.sin(axis), -rng.uniform(0.15, 0.45, n_patients)], axis=1)
    )
    normal_t = _direction(rng, (0.55, 0.7, 0.45), 0.15, n_patients)
    discordant_t = _unit(-r_dir + 0.3 * rng.standard_normal((n_patients, 3)))
    st_shifted = rng.random(n_patients) < 0.22
    st_size = np.where(
        st_shifted, rng.uniform(0.12, 0.35, n_patients), rng.uniform(0.0, 0.03, n_patients)
    )
    gain = rng.uniform(0.7, 1.3, n_patients)
    by_patient = {
        "qrs_s": qrs_s,
        "qrs_axis_deg": np.rad2deg(axis),
        "pr_s": rng.uniform(0.12, 0.2, n_patients),
        "qtc_s": rng.uniform(0.37, 0.44, n_patients),
        "p_sigma": rng.uniform(0.018, 0.028, n_patients),
        "t_sigma": rng.uniform(0.03, 0.05, n_patients),
        "p_amp": gain * rng.uniform(0.08, 0.22, n_patients),
        "q_amp": gain * rng.uniform(0.05, 0.2, n_patients),
        "r_amp": gain * rng.uniform(0.9, 1.6, n_patients),
        "s_amp": gain * rng.uniform(0.2, 0.6, n_patients),
        "t_amp": gain * rng.uniform(0.15, 0.45, n_patients),
        "p_dir": _direction(rng, (0.6, 0.75, 0.25), 0.15, n_patients),
        "q_dir": _direction(rng, (-0.5, 0.2, 0.85), 0.15, n_patients),
        "r_dir": r_dir,
        "s_dir": _direction(rng, (-0.4, -0.6, -0.7), 0.2, n_patients),
        "t_dir": np.where(wide[:, None], discordant_t, normal_t),
        "st_vec": st_size[:, None] * _unit(rng.standard_normal((n_patients, 3))),
        "f_dir": _direction(rng, (-0.3, 0.5, 0.8), 0.3, n_patients),
    }
    params = {key: value[patient] for key, value in by_patient.items()}
    n = config.n_records
    af = rng.random(n) < 0.15
    params.update(
        patient=patient,
        hr_bpm=np.clip(75.0 * np.exp(0.3 * rng.standard_normal(n)), 35.0, 180.0),
        af=af,
        rr_sigma=np.where(af, rng.uniform(0.12, 0.25, n), 0.0),
        rsa_amp=np.where(af, 0.0, rng.uniform(0.0, 0.06, n)),
        rsa_hz=rng.uniform(0.15, 0.4, n),
        f_amp=np.where(af, rng.uniform(0.02, 0.08, n), 0.0),
        f_hz=rng.uniform(4.0, 8.0, n),
        noise_mv=config.noise_mv * rng.uniform(0.5, 1.5, n),
        baseline_mv=config.baseline_wander_mv * rng.uniform(0.5, 1.5, n),
    )
    params["p_amp"] = np.where(af, 0.0, params["p_amp"])
    rr_s = 60.0 / params["hr_bpm"]
    qt_s = params["qtc_s"] * np.sqrt(rr_s) + (params["qrs_s"] - 0.09)
    params["qt_s"] = np.maximum(qt_s, params["qrs_s"] + 0.04 + 5 * params["t_sigma"])
    return params


def _labels(params: dict[str, np.ndarray]) -> pd.DataFrame:
    """The five targets, computed from the generating parameters."""
    st_deviation = np.abs(params["st_vec"] @ LEAD_VECTORS_12.T).max(axis=1)
    values = {
        "bradycardia": params["hr_bpm"] < 60.0,
        "tachycardia": params["hr_bpm"] > 100.0,
        "irregular_rhythm": params["af"],
        "wide_qrs": params["qrs_s"] * 1000.0 > WIDE_QRS_MS,
        "st_shift": st_deviation >= ST_THRESHOLD_MV,
    }
    return pd.DataFrame({name: values[name].astype(np.uint8) for name in LABEL_NAMES})


def _parameter_table(params: dict[str, np.ndarray]) -> pd.DataFrame:
    """Scalar generating parameters per record (durations in ms, ST as its largest deviation)."""
    return pd.DataFrame(
        {
            "patient_index": params["patient"],
            "hr_bpm": params["hr_bpm"],
            "af": params["af"],
            "rr_sigma": params["rr_sigma"],
            "qrs_ms": params["qrs_s"] * 1000.0,
            "p_mv": params["p_amp"],
            "pr_ms": params["pr_s"] * 1000.0,
            "qt_ms": params["qt_s"] * 1000.0,
            "qrs_axis_deg": params["qrs_axis_deg"],
            "st_max_mv": np.abs(params["st_vec"] @ LEAD_VECTORS_12.T).max(axis=1),
            "noise_mv": params["noise_mv"],
            "baseline_mv": params["baseline_mv"],
        }
    )
