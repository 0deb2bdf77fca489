"""Turning generating parameters into 12-lead signals: beat timing, wave shapes, projection.

Each wave of a beat (P, Q, R, S, T, plus an ST-segment plateau) is a bump in time with its own
3-D cardiac dipole direction; a lead is the projection of the dipole onto that lead's vector.
Leads I, II and V1-V6 are projected (and get their own noise, as electrodes do); III, aVR, aVL
and aVF are derived from I and II, so Einthoven's and Goldberger's relations hold exactly.
Coordinates: x = patient's left, y = inferior, z = anterior. Amplitudes are in mV.
Everything is vectorised over records and beats.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.special import expit

from bench.data.synthetic.config import GeneratorConfig

_RR_LIMITS_S = (0.25, 2.5)
_LEAD_IN_S = 0.8  # beats start this long before the record so early T waves are complete
_ST_EDGE_S = 0.01  # time constant of the ST plateau's sigmoid edges


def to_twelve_leads(eight: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """[..., 8, X] (I, II, V1-V6) -> [..., 12, X] in canonical order, III/aVR/aVL/aVF derived.

    Writes into ``out`` when given (shape [..., 12, X]) and returns it.
    """
    if out is None:
        out = np.empty((*eight.shape[:-2], 12, eight.shape[-1]), dtype=eight.dtype)
    lead_i, lead_ii = eight[..., 0, :], eight[..., 1, :]
    out[..., 0, :] = lead_i
    out[..., 1, :] = lead_ii
    out[..., 2, :] = lead_ii - lead_i
    out[..., 3, :] = -(lead_i + lead_ii) / 2
    out[..., 4, :] = lead_i - lead_ii / 2
    out[..., 5, :] = lead_ii - lead_i / 2
    out[..., 6:, :] = eight[..., 2:, :]
    return out


def _lead_vectors() -> np.ndarray:
    """Lead vectors [8, 3] of I, II and V1-V6 (chest leads scaled for their closeness)."""
    angles = np.deg2rad([115.0, 95.0, 75.0, 55.0, 30.0, 0.0])  # horizontal plane, from +x to +z
    gains = np.array([1.0, 1.3, 1.4, 1.4, 1.2, 1.0])
    chest = gains[:, None] * np.stack([np.cos(angles), np.zeros(6), np.sin(angles)], axis=1)
    limb = np.array([[1.0, 0.0, 0.0], [0.5, math.sqrt(3) / 2, 0.0]])
    return np.concatenate([limb, chest])


LEAD_VECTORS_8 = _lead_vectors()
LEAD_VECTORS_12 = to_twelve_leads(LEAD_VECTORS_8)  # [12, 3]


def _beat_onsets(p: dict[str, np.ndarray], rng: np.random.Generator, duration: float) -> np.ndarray:
    """QRS onset times [n, B] (s) covering the record; RR intervals vary per beat.

    Beats needed by no wave inside the record are parked 1 s past its end (their waves fall
    outside it), so every record has B columns.
    """
    n = len(p["hr_bpm"])
    rr_mean = 60.0 / p["hr_bpm"]
    max_beats = math.ceil((duration + _LEAD_IN_S + 1.0) / _RR_LIMITS_S[0]) + 1
    beat = np.arange(max_beats)
    sigma = p["rr_sigma"][:, None]
    irregular = np.exp(sigma * rng.standard_normal((n, max_beats)) - sigma**2 / 2)
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    sinus = 1.0 + p["rsa_amp"][:, None] * np.sin(
        2 * np.pi * p["rsa_hz"][:, None] * rr_mean[:, None] * beat + phase
    )
    sinus += 0.01 * rng.standard_normal((n, max_beats))
    factor = np.where(p["af"][:, None], irregular, sinus)
    rr = np.clip(rr_mean[:, None] * factor, *_RR_LIMITS_S)
    start = -_LEAD_IN_S - rng.uniform(0, 1, (n, 1)) * rr_mean[:, None]
    onsets = start + np.cumsum(rr, axis=1) - rr[:, :1]
    needed = int((onsets < duration + 0.5).sum(axis=1).max())
    return np.minimum(onsets[:, :needed], duration + 1.0)  # later beats parked past the end


def _beat_train(
    onsets: np.ndarray,
    centre: np.ndarray,
    half_width_s: float,
    shape: Callable[[np.ndarray], np.ndarray],
    fs: int,
    n_samples: int,
) -> np.ndarray:
    """One wave summed over all beats, [n, T]: ``shape(dt)`` gives its value dt s from centre.

    Each beat's wave is evaluated on the 2 * half + 1 samples nearest its centre and scattered
    into a buffer padded on both sides, so windows running off the record need no masking.
    """
    n = len(onsets)
    centres = onsets + centre[:, None]
    nearest = np.rint(centres * fs).astype(np.int64)
    half = math.ceil(half_width_s * fs)
    offsets = np.arange(-half, half + 1)
    lead_in = max(0, half - int(nearest.min()))
    width = lead_in + max(n_samples, int(nearest.max()) + half + 1)
    dt = (nearest / fs - centres).astype(np.float32)[..., None] + (offsets / fs).astype(np.float32)
    flat = (nearest + (lead_in + width * np.arange(n))[:, None])[..., None] + offsets
    summed = np.bincount(flat.ravel(), shape(dt).ravel(), minlength=n * width)
    return summed.reshape(n, width)[:, lead_in : lead_in + n_samples]


def _wave_components(
    p: dict[str, np.ndarray], onsets: np.ndarray, fs: int, n_samples: int
) -> tuple[np.ndarray, np.ndarray]:
    """Unit-amplitude courses [n, 6, T] and lead coefficients [n, 8, 6] of P, Q, R, S, T, ST."""
    qrs, t_sigma = p["qrs_s"], p["t_sigma"]
    t_centre = p["qt_s"] - 2.5 * t_sigma
    gaussians = {
        "p": (2.5 * p["p_sigma"] - p["pr_s"], p["p_sigma"]),
        "q": (0.2 * qrs, 0.07 * qrs),
        "r": (0.45 * qrs, 0.13 * qrs),
        "s": (0.78 * qrs, 0.09 * qrs),
        "t": (t_centre, t_sigma),
    }
    courses, coefficients = [], []
    for name, (centre, sigma) in gaussians.items():
        width = sigma.astype(np.float32)[:, None, None]
        courses.append(
            _beat_train(
                onsets,
                centre,
                4 * float(sigma.max()),
                lambda dt, scale=-0.5 / width**2: np.exp(dt * dt * scale),
                fs,
                n_samples,
            )
        )
        coefficients.append(p[f"{name}_amp"][:, None] * (p[f"{name}_dir"] @ LEAD_VECTORS_8.T))
    half_plateau = ((t_centre - qrs) / 2).astype(np.float32)[:, None, None]
    courses.append(
        _beat_train(
            onsets,
            (qrs + t_centre) / 2,
            float(half_plateau.max()) + 5 * _ST_EDGE_S,
            lambda dt: (
                expit((dt + half_plateau) / _ST_EDGE_S) - expit((dt - half_plateau) / _ST_EDGE_S)
            ),
            fs,
            n_samples,
        )
    )
    coefficients.append(p["st_vec"] @ LEAD_VECTORS_8.T)
    return np.stack(courses, axis=1, dtype=np.float32), np.stack(coefficients, axis=2)


def _continuous_components(
    p: dict[str, np.ndarray], rng: np.random.Generator, config: GeneratorConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Fibrillation, baseline wander, powerline: courses [n, K, T], coefficients [n, 8, K]."""
    n = len(p["hr_bpm"])
    t = np.arange(config.n_samples, dtype=np.float32) / np.float32(config.sampling_rate)
    phases = rng.uniform(0, 2 * np.pi, (n, 5, 1)).astype(np.float32)
    af = np.flatnonzero(p["af"])
    f_hz = p["f_hz"][af, None].astype(np.float32)
    fibrillation = np.zeros((n, config.n_samples), dtype=np.float32)
    fibrillation[af] = np.sin(2 * np.pi * f_hz * t + phases[af, 0]) + 0.5 * np.sin(
        2 * np.pi * 1.2 * f_hz * t + phases[af, 1]
    )
    courses = [fibrillation]
    coefficients = [p["f_amp"][:, None] * (p["f_dir"] @ LEAD_VECTORS_8.T)]
    wander_hz = rng.uniform(0.05, 0.5, (n, 2, 1)).astype(np.float32)
    for k in range(2):
        courses.append(np.sin(2 * np.pi * wander_hz[:, k] * t + phases[:, 2 + k]))
        coefficients.append(p["baseline_mv"][:, None] * rng.standard_normal((n, 8)))
    if config.powerline_mv > 0:
        courses.append(np.sin(2 * np.pi * np.float32(config.powerline_hz) * t + phases[:, 4]))
        coefficients.append(config.powerline_mv * rng.uniform(0.5, 1.5, (n, 8)))
    return np.stack(courses, axis=1), np.stack(coefficients, axis=2)


def synthesise(
    p: dict[str, np.ndarray], rng: np.random.Generator, config: GeneratorConfig, out: np.ndarray
) -> np.ndarray:
    """Write signals [n, 12, T] into ``out`` for ``n`` records' parameters ``p`` (one array per
    name, as drawn by bench.data.synthetic.generator: rate, rhythm, timing, wave shapes,
    directions)."""
    fs, n_samples = config.sampling_rate, config.n_samples
    onsets = _beat_onsets(p, rng, config.duration_s)
    wave_courses, wave_coefficients = _wave_components(p, onsets, fs, n_samples)
    other_courses, other_coefficients = _continuous_components(p, rng, config)
    courses = np.concatenate([wave_courses, other_courses], axis=1)
    coefficients = np.concatenate([wave_coefficients, other_coefficients], axis=2)
    eight = np.matmul(coefficients.astype(np.float32), courses)
    noise = rng.standard_normal(eight.shape, dtype=np.float32)
    eight += p["noise_mv"].astype(np.float32)[:, None, None] * noise
    return to_twelve_leads(eight, out)
