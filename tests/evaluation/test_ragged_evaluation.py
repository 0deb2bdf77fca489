"""Windows, fine-tuning and embeddings over records of differing lengths (each record's own
valid span; a record shorter than the window is zero-padded to one window)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from bench.data.formats.ragged import Ragged
from bench.data.signals import SignalSet
from bench.evaluation.config import FinetuneConfig
from bench.evaluation.embeddings import dataset_embeddings
from bench.evaluation.finetune import WindowedEval, finetune
from bench.evaluation.windows import apply_windowed

pytestmark = pytest.mark.numeric

CPU = torch.device("cpu")


def ragged(lengths: list[int], seed: int = 0) -> tuple[Ragged, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    parts = [rng.standard_normal((3, n)).astype(np.float32) for n in lengths]
    return Ragged.from_records(parts, 3), parts


def test_each_record_is_windowed_over_its_own_span() -> None:
    signals, parts = ragged([40, 25, 40, 33])
    out = apply_windowed(signals, lambda w: w.amax(-1), 10, 7, "max", CPU, batch_size=4)
    for row, part in enumerate(parts):
        alone = apply_windowed(part[None], lambda w: w.amax(-1), 10, 7, "max", CPU)
        np.testing.assert_allclose(out[row], alone[0], rtol=1e-6)
        np.testing.assert_allclose(out[row], part.max(-1), rtol=1e-6)  # every sample covered


def test_a_record_shorter_than_the_window_is_zero_padded(caplog) -> None:
    signals, parts = ragged([40, 6])
    out = apply_windowed(signals, lambda w: w.sum(-1), 10, 5, "mean", CPU)
    np.testing.assert_allclose(out[1], parts[1].sum(-1), rtol=1e-5)
    assert "1 records shorter than the 10-sample window are zero-padded" in caplog.text


class MeanEncoder(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(3, 4)
        self.embed_dim = 4

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x.mean(-1))


def offset_data(n: int, seed: int) -> tuple[Ragged, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = (rng.random((n, 2)) < 0.5).astype(np.float32)
    parts = []
    for row in range(n):
        part = rng.standard_normal((3, int(rng.integers(15, 70)))).astype(np.float32) * 0.5
        part[0] += 2 * labels[row, 0]
        part[1] -= 2 * labels[row, 1]
        parts.append(part)
    return Ragged.from_records(parts, 3), labels


def test_finetune_learns_from_ragged_records() -> None:
    torch.manual_seed(0)
    encoder: Any = MeanEncoder()
    train, val, test = offset_data(64, 0), offset_data(40, 1), offset_data(40, 2)
    config = FinetuneConfig(epochs=1, min_steps=60, evaluations=6, patience=6, lr=0.05)
    windows = WindowedEval(window=20, stride=20, aggregate="mean", batch_size=64)
    result = finetune(encoder, train, val, test[0], config, windows, CPU, seed=0, progress=False)
    from sklearn.metrics import roc_auc_score

    assert result.test_scores.shape == (40, 2)
    assert roc_auc_score(test[1], result.test_scores, average="macro") > 0.95


def test_embeddings_of_a_ragged_dataset() -> None:
    signals, parts = ragged([30, 50, 12])
    meta = pd.DataFrame({"record_id": [1, 2, 3], "patient_id": [1, 2, 3], "fold": [1, 9, 10]})
    data = SignalSet("toy", signals, meta, 16, ("a", "b", "c"), fingerprint="r1")
    encoder: Any = MeanEncoder()
    embedded = dataset_embeddings(encoder, "enc", data, 16, 8, CPU)
    with torch.no_grad():
        starts = [0, 8, 16, 24, 32, 34]  # the windows of the 50-sample record
        windows = torch.from_numpy(np.stack([parts[1][:, s : s + 16] for s in starts]))
        expected = encoder.embed(windows).mean(0).numpy()
    assert embedded.features.shape == (3, 4)
    np.testing.assert_allclose(embedded.rows(np.array([2]))[0], expected, rtol=1e-5)
