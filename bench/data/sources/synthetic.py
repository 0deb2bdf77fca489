"""Dataset source "synthetic": a fixed, seeded set of generated 12-lead ECGs (no download)."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from bench.config import to_dict
from bench.data.loading import DatasetSource, register_dataset
from bench.data.signals import SignalSet
from bench.data.synthetic.config import GeneratorConfig
from bench.data.synthetic.generator import GENERATOR_VERSION, generate

DEFAULT_CONFIG = GeneratorConfig(n_records=3000, seed=0, sampling_rate=100, duration_s=10.0)
N_FOLDS = 10


def synthetic_fingerprint(config: GeneratorConfig) -> str:
    """Hash of the generator version and every generating parameter."""
    blob = json.dumps({"version": GENERATOR_VERSION, "config": to_dict(config)}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def assign_folds(patient_ids: np.ndarray, seed: int) -> np.ndarray:
    """Folds 1-10 by patient: patients shuffled with ``seed`` and cut into ten equal parts."""
    patients = np.unique(patient_ids)
    order = np.random.default_rng([seed, N_FOLDS]).permutation(len(patients))
    fold_of_patient = np.empty(len(patients), dtype=np.int64)
    fold_of_patient[order] = np.arange(len(patients)) * N_FOLDS // len(patients) + 1
    return fold_of_patient[np.searchsorted(patients, patient_ids)]


@lru_cache(maxsize=2)
def synthetic_signal_set(config: GeneratorConfig = DEFAULT_CONFIG) -> SignalSet:
    """The generated records as a read-only SignalSet (labels and parameters in ``meta``)."""
    data = generate(config)
    patient_ids = data.params["patient_index"].to_numpy(np.int64) + 1
    meta = pd.DataFrame(
        {
            "record_id": np.arange(1, config.n_records + 1, dtype=np.int64),
            "patient_id": patient_ids,
            "fold": assign_folds(patient_ids, config.seed),
        }
    )
    meta = pd.concat([meta, data.labels], axis=1)
    params = data.params.drop(columns="patient_index")
    params.insert(0, "record_id", meta["record_id"])
    data.signals.flags.writeable = False
    return SignalSet(
        name="synthetic",
        signals=data.signals,
        meta=meta,
        sampling_rate=data.sampling_rate,
        lead_names=data.lead_names,
        fingerprint=synthetic_fingerprint(config),
        tables={"parameters": params},
    )


@register_dataset
class SyntheticSource(DatasetSource):
    """Generated 12-lead ECGs with five rhythm/morphology labels; needs no download."""

    name = "synthetic"
    needs_root = False

    def load(self, root: Path | None, rate: int | None, cache: Path) -> SignalSet:
        """Generate (in memory, about a second) the default set at its native 100 Hz.

        ``rate`` is left to the shared preprocessing, which resamples when asked.
        """
        return synthetic_signal_set(DEFAULT_CONFIG)
