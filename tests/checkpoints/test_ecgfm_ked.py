"""ECGFM-KED's encoder against the official code: representation (the project's xresnet1d at
KED's widths, through the stem's lead re-ordering), preprocessing, and the file checks
(fixture: tests/fixtures/checkpoints/ecgfm-ked)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from bench.checkpoints.state_dict import WeightsMismatchError
from bench.data.signals import CANONICAL_LEADS
from methods.checkpoints._official import MIMIC_LEADS
from methods.checkpoints.ecgfm_ked import EcgfmKed
from tests.checkpoints.conformance import FIXTURES, edited_copy, embed, load_adapter

FOLDER = FIXTURES / "ecgfm-ked"
WEIGHTS = FOLDER / "weights.pt"
TO_CANONICAL = [MIMIC_LEADS.index(lead) for lead in CANONICAL_LEADS]


def official_embedding() -> np.ndarray:
    return np.load(FOLDER / "embed.npy")


def canonical_inputs() -> np.ndarray:
    return np.load(FOLDER / "inputs.npy")[:, TO_CANONICAL]  # stored in the official order


def test_embed_on_canonical_leads_equals_the_official_model_on_mimic_order():
    ours = embed(load_adapter(EcgfmKed, WEIGHTS), canonical_inputs())
    np.testing.assert_allclose(ours, official_embedding(), rtol=1e-5, atol=1e-5)


def test_a_flat_file_with_prefixed_encoder_keys_loads_the_same(tmp_path: Path):
    stored = torch.load(WEIGHTS, weights_only=True)
    flat = {f"ecg_model.{key}": value for key, value in stored["ecg_model"].items()}
    flat["model.query_embed.weight"] = torch.zeros(3, 4)  # the TQN decoder, dropped
    torch.save(flat, tmp_path / "flat.pt")
    ours = embed(load_adapter(EcgfmKed, tmp_path / "flat.pt"), canonical_inputs())
    np.testing.assert_allclose(ours, official_embedding(), rtol=1e-5, atol=1e-5)


def test_preprocess_equals_the_official_pretraining_dataset():
    raw = np.load(FOLDER / "raw.npy")  # MIMIC-IV-ECG order, one NaN sample in aVR
    expected = np.load(FOLDER / "preprocessed.npy")[TO_CANONICAL]
    out = EcgfmKed.preprocess(raw, 500, tuple(MIMIC_LEADS))
    assert out.dtype == np.float32 and out.shape == (12, 1000)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-6)
    assert (out[CANONICAL_LEADS.index("aVR")] == 0).all()


def test_features_give_one_step_per_feature_stride():
    method = load_adapter(EcgfmKed, WEIGHTS)
    inputs = torch.from_numpy(canonical_inputs().astype(np.float32))
    with torch.no_grad():
        features = method.network.features(inputs)
        pooled = method.network.embed(inputs)
    assert features.shape == (2, 32, method.network.feature_dim) == (2, 32, 96)
    torch.testing.assert_close(features.mean(1), pooled)


def test_a_file_with_a_classification_head_is_refused(tmp_path: Path):
    def with_head(state):
        state["8.2.weight"] = torch.zeros(96)

    weights = edited_copy(WEIGHTS, tmp_path / "ft.pt", "ecg_model", with_head)
    with pytest.raises(WeightsMismatchError, match=r"fine-tuned.*classifier keys 8\.2\.weight"):
        load_adapter(EcgfmKed, weights)


def test_a_wrong_shape_names_the_key(tmp_path: Path):
    def narrower(state):
        state["6.1.convs.1.0.weight"] = state["6.1.convs.1.0.weight"][:-1]

    weights = edited_copy(WEIGHTS, tmp_path / "bad.pt", "ecg_model", narrower)
    with pytest.raises(WeightsMismatchError, match=r"mismatched.*stages\.3\.path\.1\.0\.weight"):
        load_adapter(EcgfmKed, weights)
