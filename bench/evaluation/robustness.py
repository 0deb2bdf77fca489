"""Noise robustness as an evaluation option: the test fold scored again with synthetic noise.

``evaluation.noise.levels`` (default empty: off) lists levels of the CPC study (1-6,
``bench.evaluation.noise``). After a cell's model is selected on clean validation data, its test
records are scored once per level with that level's noise added. Where the noise goes: to the
dataset's records as stored (in mV, at the stored rate), BEFORE the method's preprocessing
(lead selection, band-pass, resampling, normalisation) and windowing, which then treat the noisy
records exactly as the clean ones; so a method that z-scores its input still sees millivolt
noise on millivolt signals. The noise of a record depends only on (noise seed, level, record id)
and the record's duration (drawn at 500 Hz, see ``acquired_noise``), never on the method: every
method of a grid scores the same noisy records.

Physical units: the levels are millivolt amplitudes, so data that is not in mV is refused.
No dataset source records that its values are z-scores (the PTB-XL subset's headers even say
mV), so the test is made on the signals themselves (``check_physical``: nearly every record and
lead with mean ~0 and SD ~1), on the clean records about to be noised. No rescaling to a
reference amplitude is attempted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.config import check_range
from bench.data.formats.ragged import Ragged
from bench.data.preprocess import Preprocessing, apply_preprocessing
from bench.data.signals import SignalSet
from bench.errors import ConfigError, DataError
from bench.evaluation.bootstrap import macro_auroc_samples, percentile_ci, valid_resamples
from bench.evaluation.kind_metrics import (
    evaluate_multiclass,
    evaluate_regression,
    resampled_main_metric,
)
from bench.evaluation.metrics import macro_auroc
from bench.evaluation.noise import ACQUISITION_HZ, LEVELS, acquired_noise, check_physical
from bench.task import TaskKind

METRIC_PREFIX = "noise_level_"  # metrics[f"noise_level_{k}"]: the main metric at level k


@dataclass(frozen=True)
class NoiseConfig:
    """``levels``: noise levels (1-6) at which the test fold is scored again (empty: off);
    ``seed``: the noise seed (the same noise for every method); ``mains_hz``: powerline
    frequency (50 Hz, Europe; 60 Hz for American recordings)."""

    levels: tuple[int, ...] = ()
    seed: int = 0
    mains_hz: float = 50.0

    def __post_init__(self) -> None:
        for level in self.levels:
            if level not in LEVELS:
                raise ConfigError(f"evaluation.noise.levels: {level} is not one of 1-6")
        if len(set(self.levels)) != len(self.levels):
            raise ConfigError(f"evaluation.noise.levels lists a level twice: {self.levels}")
        check_range("evaluation.noise.seed", self.seed, 0)
        check_range("evaluation.noise.mains_hz", self.mains_hz, 1.0, ACQUISITION_HZ / 2 - 1)

    @property
    def enabled(self) -> bool:
        """Whether any level is scored."""
        return bool(self.levels)


@dataclass(frozen=True)
class NoisyTest:
    """Per level: the noisy test records after the method's preprocessing (``signals``) and a
    digest of the noisy records before it (``digests``: the same for every method)."""

    signals: Mapping[int, np.ndarray | Ragged] = field(default_factory=dict)
    digests: Mapping[int, str] = field(default_factory=dict)


def noisy_records(
    raw: SignalSet,
    record_ids: np.ndarray,
    preprocessing: Preprocessing,
    config: NoiseConfig,
) -> NoisyTest:
    """Per level: the records ``record_ids`` of ``raw`` (the dataset as stored) with the level's
    noise added, then ``preprocessing`` applied as to the clean records; rows in ``record_ids``
    order. ConfigError (naming the dataset and the option) when ``raw`` is not in mV."""
    ids = raw.meta["record_id"].to_numpy(np.int64)
    position = {int(record): row for row, record in enumerate(ids)}
    missing = [int(r) for r in record_ids if int(r) not in position]
    if missing:
        raise DataError(f"{raw.name}: records {missing[:5]} are not in the stored dataset")
    rows = np.array([position[int(r)] for r in record_ids], dtype=np.int64)
    clean = _records(raw.signals, rows)
    check_physical(clean, raw.name)
    # normalize "train" / "train_all" standardise with the training folds' statistics: keep those
    from_train = preprocessing.normalize in ("train", "train_all")
    context = raw.split_indices("train") if from_train else rows[:0]
    before = _records(raw.signals, context)
    out: dict[int, np.ndarray | Ragged] = {}
    digests: dict[int, str] = {}
    for level in config.levels:
        noisy = [
            record + acquired_noise(record.shape, raw.sampling_rate, level, int(ids[row]),
                                    config.seed, config.mains_hz)
            for record, row in zip(clean, rows, strict=True)
        ]  # fmt: skip
        digests[level] = _digest(noisy)
        subset = _subset(raw, np.concatenate([context, rows]), [*before, *noisy], level)
        processed = apply_preprocessing(subset, preprocessing).signals
        out[level] = processed[len(context) :]
    return NoisyTest(out, digests)


def level_metrics(
    kind: TaskKind,
    main_metric: str,
    y_true: np.ndarray,
    scores: Mapping[int, np.ndarray],
    bootstrap: tuple[int, int, float],
) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """The main metric at each noise level (``metrics["noise_level_<k>"]``, and
    ``metrics["noise_metric"]`` naming it) with its percentile CI over the cell's own test
    resamples (``bootstrap`` = (n_boot, seed, level)); rows sorted by record id already."""
    n_boot, seed, ci_level = bootstrap
    indices = valid_resamples(y_true, n_boot, seed).indices
    names = [str(i) for i in range(y_true.shape[1])]
    metrics: dict[str, Any] = {"noise_metric": main_metric}
    ci: dict[str, list[float]] = {}
    for level, score in sorted(scores.items()):
        if kind == "multilabel":
            value = macro_auroc(y_true, score)
            samples = macro_auroc_samples(y_true, score, indices)
        else:
            evaluate = evaluate_multiclass if kind == "multiclass" else evaluate_regression
            value = float(evaluate(y_true, score, names, n_boot=0).metrics[main_metric])
            samples = resampled_main_metric(main_metric, y_true, score, indices)
        metrics[f"{METRIC_PREFIX}{level}"] = value
        ci[f"{METRIC_PREFIX}{level}"] = list(percentile_ci(samples, ci_level))
    return metrics, ci


def _digest(records: Sequence[np.ndarray]) -> str:
    """16 hex digits of SHA-256 over the records' float32 bytes, in order."""
    digest = hashlib.sha256()
    for record in records:
        digest.update(np.ascontiguousarray(record, dtype=np.float32).tobytes())
    return digest.hexdigest()[:16]


def _records(signals: np.ndarray | Ragged, rows: np.ndarray) -> list[np.ndarray]:
    """The records at ``rows`` as float32 [leads, T] arrays (copies)."""
    if isinstance(signals, Ragged):
        return [np.array(signals.record(int(row)), dtype=np.float32) for row in rows]
    return list(np.array(signals[rows], dtype=np.float32))


def _subset(
    raw: SignalSet, rows: np.ndarray, records: Sequence[np.ndarray], level: int
) -> SignalSet:
    """A SignalSet of ``records`` standing for ``raw``'s ``rows`` (their metadata)."""
    signals: np.ndarray | Ragged
    if isinstance(raw.signals, Ragged):
        signals = Ragged.from_records(list(records), raw.signals.n_leads)
    else:
        signals = np.stack(records).astype(np.float32)
    return SignalSet(
        name=raw.name,
        signals=signals,
        meta=raw.meta.iloc[rows].reset_index(drop=True),
        sampling_rate=raw.sampling_rate,
        lead_names=raw.lead_names,
        fingerprint=f"{raw.fingerprint}-noise{level}",
        tables=raw.tables,
        fold_spec=raw.fold_spec,
    )
