"""Preprocessing as explicit, recorded options applied to a whole SignalSet at once.

scipy.signal (over a second to import) is imported by the filters that use it, so the
method and task contracts, which name ``Preprocessing``, load without it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import lru_cache
from typing import Literal

import numpy as np

from bench.config import check_range, to_dict
from bench.data.formats.ragged import Ragged
from bench.data.formats.shards import ShardedRecords
from bench.data.signals import CANONICAL_LEADS, INDEPENDENT_LEADS, SignalSet
from bench.errors import ConfigError, DataError

LEAD_SETS: dict[str, tuple[str, ...]] = {
    "12": CANONICAL_LEADS,
    "8": INDEPENDENT_LEADS,
    "1": ("I",),
}
CHOICES: dict[str, tuple[str, ...]] = {
    "resample": ("poly", "fft", "linear"),
    "leads": tuple(LEAD_SETS),
    "normalize": ("none", "record", "train", "train_all"),
}


@dataclass(frozen=True)
class Preprocessing:
    """What is done to the cached signals before any model sees them, in this order.

    rate: target sampling rate in Hz (None keeps the native rate); resample: "poly" (polyphase,
    anti-aliased), "fft" (as ECG-JEPA) or "linear" (interpolation over the record's duration,
    both ends kept, as ECGFounder's evaluation code); leads: "12", the "8" independent leads (I, II,
    V1-V6) or "1" (lead I, for single-lead models); bandpass: (low, high) Hz zero-phase
    Butterworth of ``bandpass_order`` (None = off);
    normalize: "none", "record" (per record and lead z-score), "train" (per-lead mean/std of
    the training folds) or "train_all" (one mean/std over every lead and sample of the training
    folds, as the PTB-XL benchmark's scaler).
    """

    rate: int | None = None
    resample: Literal["poly", "fft", "linear"] = "poly"
    leads: Literal["12", "8", "1"] = "12"
    bandpass: tuple[float, float] | None = None
    bandpass_order: int = 4
    normalize: Literal["none", "record", "train", "train_all"] = "none"

    def __post_init__(self) -> None:
        if self.rate is not None:
            check_range("preprocessing.rate", self.rate, 1)
        check_range("preprocessing.bandpass_order", self.bandpass_order, 1, 10)
        for option, choices in CHOICES.items():
            value = getattr(self, option)
            if value not in choices:
                raise ConfigError(
                    f"preprocessing.{option} = {value!r} is not one of {', '.join(choices)}"
                )
        if self.bandpass is not None:
            low, high = self.bandpass
            if not 0 <= low < high:
                raise ConfigError(f"preprocessing.bandpass = {self.bandpass} needs 0 <= low < high")

    @property
    def is_identity(self) -> bool:
        """True when applying these options leaves the signals as they are."""
        return self == Preprocessing()

    def key(self) -> str:
        """Short stable hash of these options."""
        blob = json.dumps(to_dict(self), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


def apply_preprocessing(data: SignalSet, options: Preprocessing) -> SignalSet:
    """Return ``data`` with ``options`` applied (vectorised over records of one length);
    fingerprint updated. Ragged sets keep every record's own (resampled) length."""
    if options.is_identity:
        return data
    if isinstance(data.signals, ShardedRecords):
        return _sharded_unchanged(data, options)
    lead_names = data.lead_names
    if options.leads != "12" or lead_names != CANONICAL_LEADS:
        wanted = LEAD_SETS[options.leads]
        missing = [lead for lead in wanted if lead not in lead_names]
        if missing:
            raise ConfigError(f"{data.name}: preprocessing.leads={options.leads} needs {missing}")
        lead_names = wanted
    rows = [data.lead_names.index(lead) for lead in lead_names]
    rate = options.rate if options.rate is not None else data.sampling_rate

    def transform(signals: np.ndarray) -> np.ndarray:
        if rows != list(range(len(data.lead_names))):
            signals = signals[:, rows]
        if options.bandpass is not None:
            signals = bandpass(
                signals, data.sampling_rate, options.bandpass, options.bandpass_order
            )
        if rate != data.sampling_rate:
            signals = resample(signals, data.sampling_rate, rate, options.resample)
        if options.normalize == "record":
            mean = signals.mean(-1, keepdims=True, dtype=np.float64)
            signals = standardize(signals, mean, signals.std(-1, keepdims=True, dtype=np.float64))
        return signals

    train = data.split_indices("train")
    from_train = options.normalize in ("train", "train_all")
    if from_train and not len(train):
        raise DataError(
            f"{data.name}: normalize={options.normalize!r} needs records in the training folds"
        )
    per_lead = options.normalize == "train"
    signals: np.ndarray | Ragged
    if isinstance(data.signals, Ragged):
        signals = data.signals.map_by_length(transform)
        if from_train:
            mean, std = _ragged_train_stats(signals, train, per_lead)
            signals = signals.map_by_length(lambda x: standardize(x, mean, std))
    else:
        signals = transform(np.asarray(data.signals))
        if from_train:
            axes = (0, 2) if per_lead else (0, 1, 2)
            mean = signals[train].mean(axis=axes, keepdims=True, dtype=np.float64)
            std = signals[train].std(axis=axes, keepdims=True, dtype=np.float64)
            signals = standardize(signals, mean, std)
        signals = np.ascontiguousarray(signals, dtype=np.float32)
    fingerprint = hashlib.sha256(f"{data.fingerprint}:{options.key()}".encode()).hexdigest()[:16]
    return SignalSet(
        name=data.name,
        signals=signals,
        meta=data.meta,
        sampling_rate=rate,
        lead_names=lead_names,
        fingerprint=fingerprint,
        tables=data.tables,
        fold_spec=data.fold_spec,
    )


def _sharded_unchanged(data: SignalSet, options: Preprocessing) -> SignalSet:
    """A sharded cache is read as stored: only options that leave it unchanged are accepted."""
    same_rate = options.rate in (None, data.sampling_rate)
    if not same_rate or not replace(options, rate=None, resample="poly").is_identity:
        raise ConfigError(
            f"{data.name} is a sharded cache at {data.sampling_rate} Hz, read as stored: "
            f"prepare it at the rate wanted (--rate {options.rate or data.sampling_rate}) and use "
            "no lead subset, band-pass or normalisation (not applied to sharded caches)"
        )
    fingerprint = hashlib.sha256(f"{data.fingerprint}:{options.key()}".encode()).hexdigest()[:16]
    return replace(data, fingerprint=fingerprint)


def _ragged_train_stats(
    signals: Ragged, rows: np.ndarray, per_lead: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std over every sample of the records at ``rows``: per lead ([1, leads, 1]), or
    over all leads together ([1, 1, 1]) when not ``per_lead``."""
    total = np.zeros(signals.n_leads)
    squares = np.zeros(signals.n_leads)
    count = 0
    for row in rows:
        record = signals.record(int(row)).astype(np.float64)
        total += record.sum(-1)
        squares += np.square(record).sum(-1)
        count += record.shape[-1]
    if not per_lead:
        total, squares, count = (
            total.sum(keepdims=True),
            squares.sum(keepdims=True),
            count * len(total),
        )
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean**2, 0.0))
    return mean[None, :, None], std[None, :, None]


def bandpass(signals: np.ndarray, rate: float, band: tuple[float, float], order: int) -> np.ndarray:
    """Zero-phase Butterworth band-pass along the last axis; a low edge of 0 gives a low-pass."""
    from scipy import signal as sps

    nyquist = rate / 2
    low, high = band
    if high >= nyquist:
        raise ConfigError(f"preprocessing.bandpass high edge {high} Hz must be below {nyquist} Hz")
    if low > 0:
        sos = sps.butter(order, [low, high], btype="bandpass", fs=rate, output="sos")
    else:
        sos = sps.butter(order, high, btype="lowpass", fs=rate, output="sos")
    return sps.sosfiltfilt(sos, signals, axis=-1).astype(np.float32)


def resample(signals: np.ndarray, rate: int, target: int, method: str) -> np.ndarray:
    """Resample along the last axis from ``rate`` to ``target`` Hz."""
    from scipy import signal as sps

    if method == "fft":
        length = round(signals.shape[-1] * target / rate)
        return sps.resample(signals, length, axis=-1).astype(np.float32)
    if method == "linear":
        return linear_resample(signals, rate, target).astype(np.float32)
    ratio = Fraction(target, rate)
    up, down = ratio.numerator, ratio.denominator
    dtype = signals.dtype if np.issubdtype(signals.dtype, np.floating) else np.dtype(np.float64)
    window = poly_filter(up, down, dtype.str)
    return sps.resample_poly(signals, up, down, axis=-1, window=window).astype(np.float32)


def linear_resample(signals: np.ndarray, rate: float, target: int) -> np.ndarray:
    """Linear interpolation along the last axis onto ``round(T * target / rate)`` evenly spaced
    points over the record's duration, first and last samples kept (float64)."""
    length = signals.shape[-1]
    new_length = round(length * target / rate)
    positions = np.linspace(0, length - 1, num=new_length)
    flat = np.asarray(signals, dtype=np.float64).reshape(-1, length)
    out = np.stack([np.interp(positions, np.arange(length), row) for row in flat])
    return out.reshape(*signals.shape[:-1], new_length)


@lru_cache(maxsize=64)
def poly_filter(up: int, down: int, dtype: str) -> np.ndarray:
    """The low-pass FIR filter ``scipy.signal.resample_poly`` designs by default for ``up`` /
    ``down`` (Kaiser window, beta 5, 10 taps per phase), designed once instead of per call;
    the results are the same to the bit. Read-only: resample_poly copies it."""
    from scipy import signal as sps

    max_rate = max(up, down)
    taps = sps.firwin(2 * 10 * max_rate + 1, 1.0 / max_rate, window=("kaiser", 5.0))
    taps = taps.astype(np.dtype(dtype))
    taps.flags.writeable = False
    return taps


def standardize(signals: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """(x - mean) / std with flat leads left at zero instead of dividing by zero. The callers
    compute ``mean`` and ``std`` in float64: in float32 a constant lead's std comes out near
    3e-8 instead of 0, and the lead would be blown up to +-1."""
    safe = np.where(std > 1e-8, std, 1.0)
    return ((signals - mean) / safe).astype(np.float32)
