"""MERL ViT-1D adapter against the official code's outputs (tests/fixtures/checkpoints/merl-vit)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from bench.checkpoints.method import CheckpointConfig
from bench.checkpoints.state_dict import WeightsMismatchError
from bench.data.signals import CANONICAL_LEADS
from bench.encoders.base import InputSpec
from bench.errors import ConfigError
from methods.checkpoints.merl_vit import MERL_VIT_SIZES, MerlViT
from methods.checkpoints.vit1d_net import ViT1d

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "checkpoints" / "merl-vit"
RATE = 500


def load(name: str) -> np.ndarray:
    return np.load(FIXTURE / f"{name}.npy")


def official_state() -> dict:
    return torch.load(FIXTURE / "encoder.pth", map_location="cpu", weights_only=True)


def adapter(weights: Path) -> MerlViT:
    config = CheckpointConfig(size="tiny", weights=str(weights))
    return MerlViT(config, MerlViT.official_input_spec())


def embed(method: MerlViT) -> np.ndarray:
    batch = np.concatenate([load("preprocessed")[None], load("inputs")])
    with torch.no_grad():
        return method.network.embed(torch.from_numpy(batch)).numpy()


def test_embed_equals_the_official_representation() -> None:
    method = adapter(FIXTURE / "encoder.pth")
    np.testing.assert_allclose(embed(method), load("embeddings"), rtol=0, atol=1e-5)


def test_preprocess_equals_the_official_dataset_with_its_lead_order() -> None:
    got = MerlViT.preprocess(load("raw"), RATE, CANONICAL_LEADS)
    assert got.dtype == np.float32 and got.shape == (12, 5000)
    np.testing.assert_allclose(got, load("preprocessed"), rtol=0, atol=1e-6)


def test_preprocess_pads_a_short_record_before_the_min_max() -> None:
    raw = load("raw")[:, :2500]
    got = MerlViT.preprocess(raw, RATE, CANONICAL_LEADS)
    padded = np.pad(raw.astype(np.float64), ((0, 0), (0, 2500)))
    low, high = padded.min(), padded.max()
    assert got.shape == (12, 5000)
    np.testing.assert_allclose(got[:, 2500:], -low / (high - low), atol=1e-6)


def test_the_whole_ecg_text_model_file_loads_as_the_encoder(tmp_path: Path) -> None:
    whole = {f"ecg_encoder.{key}": value for key, value in official_state().items()}
    whole.update({
        "proj_e.0.weight": torch.zeros(8, 16),
        "linear1.weight": torch.zeros(8, 16),
        "linear2.weight": torch.zeros(8, 16),
        "lm_model.embeddings.word_embeddings.weight": torch.zeros(4, 8),
        "proj_t.0.weight": torch.zeros(8, 8),
    })  # fmt: skip
    torch.save(whole, tmp_path / "vit_tiny_best_ckpt.pth")
    np.testing.assert_allclose(
        embed(adapter(tmp_path / "vit_tiny_best_ckpt.pth")), load("embeddings"), atol=1e-5
    )


def test_a_fine_tuned_file_is_refused(tmp_path: Path) -> None:
    state = official_state()
    state["head.weight"], state["head.bias"] = torch.zeros(5, 16), torch.zeros(5)
    torch.save({"model": state, "optimizer": {}}, tmp_path / "finetuned.pth")
    with pytest.raises(WeightsMismatchError, match=r"fine-tuned MERL \(ViT-1D\) file"):
        adapter(tmp_path / "finetuned.pth")


def test_a_misshapen_weight_is_named(tmp_path: Path) -> None:
    state = official_state()
    state["pos_embedding"] = torch.zeros(1, 99, 16)
    torch.save(state, tmp_path / "wrong.pth")
    with pytest.raises(WeightsMismatchError, match=r"tokens\.pos \(1, 99, 16\) != \(1, 100, 16\)"):
        adapter(tmp_path / "wrong.pth")


def test_the_conv_tokeniser_takes_exactly_its_window() -> None:
    with pytest.raises(ConfigError, match="exactly 50-sample patches up to its window of 5000"):
        ViT1d(MERL_VIT_SIZES["tiny"], InputSpec(n_leads=12, n_samples=2500, sampling_rate=250))
