"""MERL ResNet18-1D against the official code: representation (through the stem's lead
re-ordering), preprocessing, and the released-file checks (fixture: merl-resnet18)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from bench.checkpoints.state_dict import WeightsMismatchError
from bench.data.signals import CANONICAL_LEADS
from methods.checkpoints._official import MIMIC_LEADS
from methods.checkpoints.merl import MerlResNet18
from tests.checkpoints.conformance import FIXTURES, edited_copy, embed, load_adapter

FOLDER = FIXTURES / "merl-resnet18"
WEIGHTS = FOLDER / "weights.pth"
TO_CANONICAL = [MIMIC_LEADS.index(lead) for lead in CANONICAL_LEADS]


def test_embed_on_canonical_leads_equals_the_official_model_on_mimic_order():
    inputs = np.load(FOLDER / "inputs.npy")  # the official model's (MIMIC-IV-ECG) order
    expected = np.load(FOLDER / "embed.npy")
    ours = embed(load_adapter(MerlResNet18, WEIGHTS), inputs[:, TO_CANONICAL])
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-5)


def test_preprocess_equals_the_official_dataset_in_canonical_order():
    raw = np.load(FOLDER / "raw.npy")
    expected = np.load(FOLDER / "preprocessed.npy")[TO_CANONICAL]
    out = MerlResNet18.preprocess(raw, 500, CANONICAL_LEADS)
    assert out.dtype == np.float32 and out.shape == (12, 5000)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-6)


def test_short_records_are_zero_padded_before_scaling():
    raw = np.random.default_rng(0).normal(size=(12, 2500))
    out = MerlResNet18.preprocess(raw, 500, CANONICAL_LEADS)
    assert out.shape == (12, 5000) and out.min() == 0 and out.max() == pytest.approx(1)
    padded = (0 - raw.min()) / (raw.max() - raw.min())
    np.testing.assert_allclose(out[:, 2500:], padded, rtol=1e-6)


def test_features_give_one_step_per_feature_stride():
    method = load_adapter(MerlResNet18, WEIGHTS)
    inputs = torch.from_numpy(np.load(FOLDER / "inputs.npy").astype(np.float32))
    with torch.no_grad():
        features = method.encoder.features(inputs)
        pooled = method.encoder.embed(inputs)
    assert features.shape == (2, 313, method.encoder.feature_dim)
    torch.testing.assert_close(features.mean(1), pooled)


def test_a_fine_tuned_file_is_refused(tmp_path: Path):
    def new_head(state):
        state["linear.weight"] = torch.zeros(5, state["linear.weight"].shape[1])
        state["linear.bias"] = torch.zeros(5)

    weights = edited_copy(WEIGHTS, tmp_path / "ft.pth", None, new_head)
    with pytest.raises(WeightsMismatchError, match=r"'linear.weight' has 5 outputs.*fine-tuned"):
        load_adapter(MerlResNet18, weights)


def test_a_wrong_shape_names_the_key(tmp_path: Path):
    def narrower(state):
        state["layer3.0.conv2.weight"] = state["layer3.0.conv2.weight"][:, :-1]

    weights = edited_copy(WEIGHTS, tmp_path / "bad.pth", None, narrower)
    with pytest.raises(WeightsMismatchError, match=r"mismatched.*stages\.2\.0\.conv2\.weight"):
        load_adapter(MerlResNet18, weights)
