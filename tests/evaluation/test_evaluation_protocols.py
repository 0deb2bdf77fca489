"""Windows, the linear probe, fine-tuning and the embedding cache: selection never sees test."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from bench.errors import ConfigError, DataError
from bench.evaluation.config import FinetuneConfig
from bench.evaluation.embeddings import dataset_embeddings, embedding_path
from bench.evaluation.finetune import WindowedEval, finetune
from bench.evaluation.probe import LinearProbeConfig, linear_probe
from bench.evaluation.windows import apply_windowed, window_starts

pytestmark = pytest.mark.numeric

CPU = torch.device("cpu")


def test_windows_cover_the_record_and_end_at_its_end() -> None:
    assert window_starts(1000, 250, 125).tolist() == [0, 125, 250, 375, 500, 625, 750]
    assert window_starts(260, 250, 125).tolist() == [0, 10]
    assert window_starts(250, 250, 125).tolist() == [0]
    with pytest.raises(ConfigError, match="shorter"):
        window_starts(200, 250, 125)


@pytest.mark.parametrize("aggregate", ["mean", "max"])
def test_windowed_outputs_are_aggregated_per_record(aggregate: str) -> None:
    signals = np.random.default_rng(0).standard_normal((5, 2, 40)).astype(np.float32)
    out = apply_windowed(signals, lambda w: w[:, :, 0], 10, 7, aggregate, CPU, batch_size=6)
    starts = window_starts(40, 10, 7)
    windows = np.stack([signals[:, :, s] for s in starts], axis=1)  # first sample of each
    expected = windows.mean(1) if aggregate == "mean" else windows.max(1)
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def separable(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = (rng.random((n, 3)) < 0.4).astype(np.float32)
    features = labels @ rng.standard_normal((3, 8)) + 0.8 * rng.standard_normal((n, 8))
    return features.astype(np.float32), labels


def test_probe_picks_c_on_validation_and_never_looks_at_test() -> None:
    train, val, (test_x, _) = separable(200, 0), separable(100, 1), separable(100, 2)
    config = LinearProbeConfig(c_grid=(1e-4, 1.0))
    result = linear_probe(train, val, test_x, config)
    assert result.best_c == 1.0  # a 1e-4 probe is nearly constant
    assert result.val_auroc_by_c[1.0] > result.val_auroc_by_c[1e-4]
    shuffled_test = test_x[::-1].copy()
    again = linear_probe(train, val, shuffled_test, config)
    assert again.best_c == result.best_c
    np.testing.assert_allclose(again.val_scores, result.val_scores)
    np.testing.assert_allclose(again.test_scores, result.test_scores[::-1], rtol=1e-5)


def test_probe_config_is_checked() -> None:
    with pytest.raises(ConfigError):
        LinearProbeConfig(c_grid=())
    with pytest.raises(ConfigError):
        LinearProbeConfig(c_grid=(-1.0,))


class MeanEncoder(torch.nn.Module):
    """A linear encoder over lead means, enough to learn lead-amplitude labels."""

    def __init__(self, leads: int) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(leads, 4)
        self.embed_dim = 4
        self.calls = 0

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.proj(x.mean(-1))


def lead_offset_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = (rng.random((n, 2)) < 0.5).astype(np.float32)
    signals = rng.standard_normal((n, 3, 60)).astype(np.float32) * 0.5
    signals[:, 0] += 2 * labels[:, :1]
    signals[:, 1] -= 2 * labels[:, 1:]
    return signals, labels


def test_finetune_learns_and_keeps_the_best_validation_state() -> None:
    torch.manual_seed(0)
    encoder: Any = MeanEncoder(3)
    train, val, test = lead_offset_data(64, 0), lead_offset_data(40, 1), lead_offset_data(40, 2)
    config = FinetuneConfig(epochs=1, min_steps=60, evaluations=6, patience=6, lr=0.05)
    windows = WindowedEval(window=20, stride=20, aggregate="mean", batch_size=64)
    result = finetune(encoder, train, val, test[0], config, windows, CPU, seed=0, progress=False)
    assert result.steps == 60 and len(result.val_curve) == 6
    best_step, best_auroc = max(result.val_curve, key=lambda point: point[1])
    assert result.best_step == best_step and best_auroc > 0.95
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(test[1], result.test_scores, average="macro") > 0.95
    assert encoder.proj.weight.grad is None  # the caller's encoder is left untouched


def test_finetune_selection_does_not_depend_on_test_signals() -> None:
    train, val, test = lead_offset_data(48, 0), lead_offset_data(30, 1), lead_offset_data(30, 2)
    config = FinetuneConfig(epochs=1, min_steps=20, evaluations=4, lr=0.05)
    windows = WindowedEval(window=20, stride=10, aggregate="max", batch_size=64)

    def run(test_signals: np.ndarray) -> Any:
        torch.manual_seed(0)
        return finetune(
            MeanEncoder(3), train, val, test_signals, config, windows, CPU, 0, progress=False
        )  # type: ignore[arg-type]

    first, second = run(test[0]), run(test[0] * 10)
    assert first.best_step == second.best_step and first.val_curve == second.val_curve
    np.testing.assert_allclose(first.val_scores, second.val_scores)


def test_embeddings_are_computed_once_and_keyed_by_data(toys: Any) -> None:
    import pandas as pd

    from bench.data.signals import SignalSet

    signals = toys.signals(n_records=10, length=64)
    meta = pd.DataFrame({"record_id": np.arange(10) + 100, "patient_id": np.arange(10), "fold": 1})
    data = SignalSet("toy", signals, meta, 16, ("a", "b", "c"), fingerprint="f1")
    encoder = MeanEncoder(3)
    first = dataset_embeddings(encoder, "enc", data, 32, 16, CPU)  # type: ignore[arg-type]
    calls = encoder.calls
    second = dataset_embeddings(encoder, "enc", data, 32, 16, CPU)  # type: ignore[arg-type]
    assert encoder.calls == calls  # loaded from the cache file
    np.testing.assert_array_equal(first.features, second.features)
    assert embedding_path("enc", data, 32, 16).exists()
    changed = SignalSet("toy", signals, meta, 16, ("a", "b", "c"), fingerprint="f2")
    assert embedding_path("enc", changed, 32, 16) != embedding_path("enc", data, 32, 16)
    np.testing.assert_array_equal(second.rows(np.array([105, 100])), first.features[[5, 0]])
    with pytest.raises(DataError, match="999"):
        second.rows(np.array([999]))
