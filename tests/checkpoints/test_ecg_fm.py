"""ECG-FM adapter against fairseq-signals' outputs (tests/fixtures/checkpoints/ecg-fm)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from bench.checkpoints.method import CheckpointConfig
from bench.checkpoints.state_dict import WeightsMismatchError
from bench.data.preprocess import apply_preprocessing
from bench.data.signals import CANONICAL_LEADS, SignalSet
from bench.errors import DataError
from methods.checkpoints.ecg_fm import EcgFm

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "checkpoints" / "ecg-fm"
WEIGHTS = FIXTURE / "pretrained_tiny.pt"
RAW_RATE = 360


def load(name: str) -> np.ndarray:
    return np.load(FIXTURE / f"{name}.npy")


def raw_leads() -> tuple[str, ...]:
    return tuple((FIXTURE / "raw_leads.txt").read_text().split())


def official_file() -> dict:
    return torch.load(WEIGHTS, map_location="cpu", weights_only=True)


def adapter(weights: Path) -> EcgFm:
    return EcgFm(CheckpointConfig(size="tiny", weights=str(weights)), EcgFm.official_input_spec())


def batch() -> torch.Tensor:
    return torch.from_numpy(np.concatenate([load("preprocessed")[None], load("inputs")]))


def test_embed_and_features_equal_the_official_outputs() -> None:
    network = adapter(WEIGHTS).network
    assert not network.training
    with torch.no_grad():
        embedded = network.embed(batch()).numpy()
        features = network.features(batch()).numpy()
    np.testing.assert_allclose(embedded, load("embed"), rtol=0, atol=1e-5)
    official = load("encoder_out")
    assert network.feature_stride == 16 and features.shape[1] == -(-2500 // 16)
    np.testing.assert_allclose(features[:, : official.shape[1]], official, rtol=0, atol=1e-5)


def test_preprocess_equals_the_official_pipeline() -> None:
    got = EcgFm.preprocess(load("raw_360hz"), RAW_RATE, raw_leads())
    assert got.dtype == np.float32 and got.shape == (12, 2500)
    np.testing.assert_allclose(got, load("preprocessed"), rtol=0, atol=1e-6)


def test_the_grid_z_scores_the_whole_record_before_its_first_window() -> None:
    """The official code z-scores a 10-s record, then cuts 5-s pieces: the grid's cache
    (``record_zscore``) gives its first window the same values, where a z-score of the window
    alone would not."""
    rng = np.random.default_rng(0)
    raw = rng.normal(0.0, 1.0, (12, 5000)) * np.linspace(0.5, 2.0, 5000)  # amplitude drifts
    raw[CANONICAL_LEADS.index("V4")] = 0.3  # a constant lead
    meta = pd.DataFrame({"record_id": [1], "patient_id": [1], "fold": [1]})
    stored = SignalSet("one", raw[None].astype(np.float32), meta, 500, CANONICAL_LEADS, "raw")
    cached = apply_preprocessing(stored, EcgFm.native_input.preprocessing()).signals
    window = EcgFm.official_window(cached[:, :, :2500])
    official = EcgFm.preprocess(raw, 500, CANONICAL_LEADS)
    np.testing.assert_allclose(window[0], official, rtol=0, atol=1e-5)
    alone = raw[:, :2500] - raw[:, :2500].mean(-1, keepdims=True)
    assert not np.allclose(official[0], alone[0] / alone[0].std(), atol=1e-3)


def test_the_fine_tuned_file_is_refused(tmp_path: Path) -> None:
    stored = official_file()
    model = {f"encoder.{key}": value for key, value in stored["model"].items()}
    model.update({"proj.weight": torch.zeros(17, 48), "proj.bias": torch.zeros(17)})
    torch.save({**stored, "model": model}, tmp_path / "finetuned.pt")
    with pytest.raises(WeightsMismatchError, match=r"fine-tuned ECG-FM file .*proj\.weight"):
        adapter(tmp_path / "finetuned.pt")


def test_a_misshapen_weight_is_named(tmp_path: Path) -> None:
    stored = official_file()
    stored["model"]["encoder.layers.1.fc1.weight"] = torch.zeros(97, 48)
    torch.save(stored, tmp_path / "wrong.pt")
    with pytest.raises(WeightsMismatchError, match=r"layers\.1\.fc1\.weight \(97, 48\)"):
        adapter(tmp_path / "wrong.pt")


def test_preprocess_names_missing_leads_and_short_records() -> None:
    raw, leads = load("raw_360hz"), raw_leads()
    with pytest.raises(DataError, match=r"lacks lead"):
        EcgFm.preprocess(raw[:11], RAW_RATE, leads[:11])
    with pytest.raises(DataError, match="shorter than the official window of 2500"):
        EcgFm.preprocess(raw[:, : RAW_RATE * 4], RAW_RATE, leads)
