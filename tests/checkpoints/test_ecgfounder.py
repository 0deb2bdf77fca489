"""ECGFounder (12-lead and single-lead) against the official code: representation,
preprocessing, and the released-file checks (fixture: tests/fixtures/checkpoints/ecgfounder)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from bench.checkpoints.state_dict import WeightsMismatchError
from methods.checkpoints.ecgfounder import ECGFounder1Lead, ECGFounder12Lead
from tests.checkpoints.conformance import FIXTURES, edited_copy, embed, load_adapter

FOLDER = FIXTURES / "ecgfounder"
VARIANTS = [(ECGFounder12Lead, "12lead"), (ECGFounder1Lead, "1lead")]


@pytest.mark.parametrize(("cls", "variant"), VARIANTS)
def test_embed_equals_the_official_deep_features(cls, variant):
    method = load_adapter(cls, FOLDER / variant / "weights.pth")
    inputs = np.load(FOLDER / variant / "inputs.npy")
    expected = np.load(FOLDER / variant / "embed.npy")
    np.testing.assert_allclose(embed(method, inputs), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("cls", "variant"), VARIANTS)
def test_preprocess_equals_the_official_dataset(cls, variant):
    raw = np.load(FOLDER / "raw.npy")
    leads = tuple((FOLDER / "raw_leads.txt").read_text().split())
    expected = np.load(FOLDER / variant / "preprocessed.npy")
    out = cls.preprocess(raw, 500, leads)
    assert out.dtype == np.float32 and out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize(("cls", "variant"), VARIANTS)
def test_features_give_one_step_per_feature_stride(cls, variant):
    method = load_adapter(cls, FOLDER / variant / "weights.pth")
    inputs = torch.from_numpy(np.load(FOLDER / variant / "inputs.npy").astype(np.float32))
    with torch.no_grad():
        features = method.network.features(inputs)
        pooled = method.network.embed(inputs)
    stride = method.network.feature_stride
    assert features.shape == (2, -(-inputs.shape[-1] // stride), method.network.feature_dim)
    torch.testing.assert_close(features.mean(1), pooled)


def test_a_fine_tuned_file_is_refused(tmp_path: Path):
    def new_head(state):
        state["dense.weight"] = torch.zeros(5, state["dense.weight"].shape[1])
        state["dense.bias"] = torch.zeros(5)

    weights = edited_copy(
        FOLDER / "12lead" / "weights.pth", tmp_path / "ft.pth", "state_dict", new_head
    )
    with pytest.raises(WeightsMismatchError, match=r"'dense.weight' has 5 outputs.*fine-tuned"):
        load_adapter(ECGFounder12Lead, weights)


def test_a_wrong_shape_names_the_key(tmp_path: Path):
    def narrower(state):
        key = "stage_list.1.block_list.0.conv2.conv.weight"
        state[key] = state[key][:-1]

    weights = edited_copy(
        FOLDER / "12lead" / "weights.pth", tmp_path / "bad.pth", "state_dict", narrower
    )
    with pytest.raises(WeightsMismatchError, match=r"mismatched.*stages\.1\.0\.spatial\.weight"):
        load_adapter(ECGFounder12Lead, weights)


def test_module_prefixes_are_stripped_and_the_unused_batch_norm_dropped(tmp_path: Path):
    def wrapped(state):
        for key in list(state):
            state[f"module.{key}"] = state.pop(key)

    source = FOLDER / "12lead" / "weights.pth"
    weights = edited_copy(source, tmp_path / "ddp.pth", "state_dict", wrapped)
    inputs = np.load(FOLDER / "12lead" / "inputs.npy")
    reference = embed(load_adapter(ECGFounder12Lead, source), inputs)
    np.testing.assert_array_equal(embed(load_adapter(ECGFounder12Lead, weights), inputs), reference)
    official = torch.load(source, weights_only=True)["state_dict"]
    assert any(".bn2." in key for key in official)
    assert not any("bn" in key or "dense" in key for key in ECGFounder12Lead.convert(official))


def test_the_single_lead_model_takes_lead_i_from_any_record():
    raw = np.random.default_rng(0).standard_normal((12, 6000))
    leads = tuple((FOLDER / "raw_leads.txt").read_text().split())
    alone = ECGFounder1Lead.preprocess(raw[[0]], 500, ("I",))
    np.testing.assert_array_equal(ECGFounder1Lead.preprocess(raw, 500, leads), alone)
    assert ECGFounder1Lead.official_input.preprocessing().leads == "1"


def test_other_rates_are_interpolated_to_500_hz_over_the_record():
    # resample_unequal maps the first and last samples of the record onto each other
    t250, t500 = np.linspace(0, 10, 2500), np.linspace(0, 10, 5000)
    at_250 = np.sin(2 * np.pi * 5 * t250)[None]
    at_500 = np.sin(2 * np.pi * 5 * t500)[None]
    resampled = ECGFounder1Lead.preprocess(at_250, 250, ("I",))
    direct = ECGFounder1Lead.preprocess(at_500, 500, ("I",))
    assert resampled.shape == direct.shape == (1, 5000)
    middle = slice(1000, 4000)
    np.testing.assert_allclose(resampled[:, middle], direct[:, middle], atol=0.02)
