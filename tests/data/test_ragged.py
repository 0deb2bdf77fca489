"""Variable-length records in one flat array, and preprocessing that keeps their lengths."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.data.formats.ragged import Ragged
from bench.data.preprocess import Preprocessing, apply_preprocessing, resample
from bench.data.signals import CANONICAL_LEADS, INDEPENDENT_LEADS, SignalSet


def records(lengths: list[int], leads: int = 12, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(leads, n)).astype(np.float32) for n in lengths]


def test_records_round_trip_without_padding() -> None:
    parts = records([5, 3, 8], leads=2)
    ragged = Ragged.from_records(parts, 2)
    assert len(ragged) == 3 and ragged.lengths.tolist() == [5, 3, 8]
    assert ragged.flat.shape == (2 * 16,) and ragged.shape == (3, 2, 8)
    for got, want in zip(ragged, parts, strict=True):
        np.testing.assert_array_equal(got, want)
    picked = ragged[np.array([2, 0])]
    np.testing.assert_array_equal(picked.record(0), parts[2])
    assert picked.lengths.tolist() == [8, 5]
    assert ragged.as_array() is None


def test_equal_lengths_give_a_zero_copy_view() -> None:
    ragged = Ragged.from_records(records([4, 4]), 12)
    view = ragged.as_array()
    assert view is not None and view.shape == (2, 12, 4)
    assert np.shares_memory(view, ragged.flat)


def test_inconsistent_offsets_are_refused() -> None:
    with pytest.raises(ValueError, match="offsets end at 3 samples x 2 leads"):
        Ragged(np.zeros(8, np.float32), np.array([0, 3]), 2)
    with pytest.raises(ValueError, match="must not decrease"):
        Ragged(np.zeros(8, np.float32), np.array([0, 5, 4]), 2)


def ragged_set(lengths: list[int]) -> SignalSet:
    meta = pd.DataFrame(
        {"record_id": range(1, len(lengths) + 1), "patient_id": range(len(lengths)),
         "fold": [1, 2, 10, 9][: len(lengths)]}
    )  # fmt: skip
    signals = Ragged.from_records(records(lengths), 12)
    return SignalSet("toy", signals, meta, 500, CANONICAL_LEADS, "f", fold_spec={"method": "test"})


def test_preprocessing_resamples_each_record_to_its_own_length() -> None:
    data = ragged_set([5000, 3000, 5000])
    assert data.lengths.tolist() == [5000, 3000, 5000]
    out = apply_preprocessing(data, Preprocessing(rate=100, leads="8", normalize="record"))
    assert isinstance(out.signals, Ragged)
    assert out.lengths.tolist() == [1000, 600, 1000] and out.lead_names == INDEPENDENT_LEADS
    assert out.sampling_rate == 100 and out.fingerprint != data.fingerprint
    assert out.fold_spec == data.fold_spec == {"method": "test"}
    rows = [CANONICAL_LEADS.index(lead) for lead in INDEPENDENT_LEADS]
    want = resample(data.signals.record(1)[rows][None], 500, 100, "poly")[0]
    want = (want - want.mean(-1, keepdims=True)) / want.std(-1, keepdims=True)
    np.testing.assert_allclose(out.signals.record(1), want, atol=1e-5)


def test_train_normalisation_uses_every_training_sample() -> None:
    data = ragged_set([50, 30, 40])
    out = apply_preprocessing(data, Preprocessing(normalize="train"))
    train = np.concatenate([data.signals.record(0), data.signals.record(1)], axis=1)
    mean, std = train.mean(1, keepdims=True), train.std(1, keepdims=True)
    np.testing.assert_allclose(
        out.signals.record(2), (data.signals.record(2) - mean) / std, atol=1e-5
    )
