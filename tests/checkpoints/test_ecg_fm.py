"""ECG-FM adapter against fairseq-signals' outputs (tests/fixtures/checkpoints/ecg-fm)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from bench.checkpoints.method import CheckpointConfig
from bench.checkpoints.state_dict import WeightsMismatchError
from bench.data.signals import CANONICAL_LEADS
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


def test_official_window_z_scores_each_lead_of_a_window() -> None:
    window = load("preprocessed")[None] * 3.0 + 1.0
    scaled = EcgFm.official_window(window)
    constant = CANONICAL_LEADS.index("V4")  # the fixture's constant lead
    live = [i for i in range(12) if i != constant]
    np.testing.assert_allclose(scaled[0, live].mean(-1), 0, atol=1e-6)
    np.testing.assert_allclose(scaled[0, live].std(-1), 1, atol=1e-5)
    assert not scaled[0, constant].any()


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
