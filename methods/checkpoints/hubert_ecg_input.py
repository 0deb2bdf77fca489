"""HuBERT-ECG's official input pipeline, from a raw record to the network's 12 x 500 input.

Two official steps (Edoar-do/HuBERT-ECG at affe1f94): ``utils.ecg_preprocessing``, run once per
record before training (the stored ``.npy`` files), and ``dataset.ECGDataset.__getitem__``, run
per item with ``--downsampling_factor=5``:

1. ``apply_filter`` at the record's own rate: biosppy ``filter_signal(ftype='FIR',
   band='bandpass', order=int(0.3 * fs), frequency=[0.05, 47])``, i.e. ``scipy.signal.firwin``
   (Hamming window, ``order`` taps made odd, cut-offs ``2 f / fs``) applied forward-backward
   (``filtfilt``) along time;
2. ``scipy.signal.resample`` (FFT) to 500 Hz: ``int(samples * (500 / fs))`` samples;
3. ``scaling``: each lead min-max scaled to [-1, 1] over the whole record
   (``2 (x - min) / (max - min + 1e-8) - 1``);
4. the first 2,500 samples (5 s; the evaluation crop: fine-tuning's ``--random_crop`` draws
   the start at random instead), NaN set to the mean of the window's other values;
5. the 12 leads flattened lead after lead into one 30,000-sample sequence and
   ``scipy.signal.decimate(sequence, 5)`` (order-8 Chebyshev I, zero-phase) to 6,000 samples,
   across the lead boundaries as the official code does; returned here as [12, 500].

Before commit 0ef0705 (2025-12-26) step 1 ran after step 2, at 500 Hz; this follows the code
at the commit read.
"""

from __future__ import annotations

import numpy as np
from scipy import signal as sps

from bench.data.signals import CANONICAL_LEADS
from bench.errors import DataError
from methods.checkpoints._official import select_leads

BAND: tuple[float, float] = (0.05, 47.0)
STORED_RATE = 500
WINDOW_AT_STORED_RATE = 2500
DECIMATION = 5
MODEL_LEADS = CANONICAL_LEADS
"""The official order (I, II, III, aVR, aVL, aVF, V1-V6; the authors' answer in issue #1)."""


def official_input(raw: np.ndarray, rate: float, leads: tuple[str, ...], name: str) -> np.ndarray:
    """A raw record [leads, samples] in mV -> the official input [12, 500], float32.

    DataError (naming ``name``) for a record without the 12 leads, at a rate too low for the
    47 Hz edge, or shorter than 5 s.
    """
    signal = select_leads(np.asarray(raw), leads, MODEL_LEADS, name)
    if rate <= 2 * BAND[1]:
        raise DataError(
            f"{name}: a record at {rate:g} Hz cannot take the official 0.05-47 Hz band-pass "
            f"(it needs more than {2 * BAND[1]:g} Hz); use the record at its acquisition rate"
        )
    signal = fir_bandpass(signal, rate)
    signal = sps.resample(signal, int(signal.shape[-1] * (STORED_RATE / rate)), axis=1)
    signal = min_max(signal)
    if signal.shape[-1] < WINDOW_AT_STORED_RATE:
        raise DataError(
            f"{name}: the record lasts {raw.shape[-1] / rate:.2f} s; HuBERT-ECG takes 5 s "
            "(shorter records need padding and an attention mask, which the benchmark does not "
            "use): leave this record out"
        )
    return decimated(fill_missing(signal[:, :WINDOW_AT_STORED_RATE], name))


def window_input(window: np.ndarray, rate: float, name: str) -> np.ndarray:
    """One 5-s window [12, 2500] at 500 Hz as the official steps give it when the window is the
    record: band-passed, min-maxed per lead, NaN filled, decimated -> [12, 500] float32."""
    scaled = min_max(fir_bandpass(np.asarray(window, dtype=np.float64), rate))
    return decimated(fill_missing(scaled, name))


def decimated(window: np.ndarray) -> np.ndarray:
    """The 12 leads flattened lead after lead, decimated by 5 across them, back to [12, T/5]."""
    sequence = sps.decimate(window.reshape(-1), DECIMATION)
    return sequence.reshape(window.shape[0], -1).astype(np.float32)


def fir_bandpass(signal: np.ndarray, rate: float) -> np.ndarray:
    """Zero-phase FIR band-pass 0.05-47 Hz of ``int(0.3 rate)`` taps (odd), along time."""
    taps = int(0.3 * rate)
    taps += 1 - taps % 2
    coefficients = sps.firwin(taps, 2.0 * np.asarray(BAND) / float(rate), pass_zero=False)
    return sps.filtfilt(coefficients, np.array([1.0]), signal)


def min_max(signal: np.ndarray, smooth: float = 1e-8) -> np.ndarray:
    """Each lead (row) scaled to [-1, 1] by its own minimum and maximum."""
    low = signal.min(axis=1, keepdims=True)
    high = signal.max(axis=1, keepdims=True)
    return 2 * (signal - low) / (high - low + smooth) - 1


def fill_missing(window: np.ndarray, name: str) -> np.ndarray:
    """NaN samples set to the mean of the window's other samples (none left: DataError)."""
    missing = np.isnan(window)
    if not missing.any():
        return window
    if missing.all():
        raise DataError(f"{name}: the record's first 5 s hold no finite sample")
    return np.where(missing, window[~missing].mean(), window)
