"""ST-MEM adapter against the official code's outputs (tests/fixtures/checkpoints/st-mem)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from bench.checkpoints.method import CheckpointConfig
from bench.checkpoints.state_dict import WeightsMismatchError
from bench.data.signals import CANONICAL_LEADS
from bench.errors import DataError
from methods.checkpoints.st_mem import StMem

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "checkpoints" / "st-mem"
RAW_RATE = 300


def load(name: str) -> np.ndarray:
    return np.load(FIXTURE / f"{name}.npy")


def official_file() -> dict:
    return torch.load(FIXTURE / "encoder.pth", map_location="cpu", weights_only=True)


def adapter(weights: Path) -> StMem:
    config = CheckpointConfig(size="tiny", weights=str(weights))
    return StMem(config, StMem.official_input_spec())


def embed(method: StMem) -> np.ndarray:
    batch = np.concatenate([load("preprocessed")[None], load("inputs")])
    with torch.no_grad():
        return method.network.embed(torch.from_numpy(batch)).numpy()


def test_embed_equals_the_official_representation() -> None:
    method = adapter(FIXTURE / "encoder.pth")
    assert not method.encoder.training
    np.testing.assert_allclose(embed(method), load("embeddings"), rtol=0, atol=1e-5)


def test_preprocess_equals_the_official_pipeline_in_any_lead_order() -> None:
    raw, expected = load("raw"), load("preprocessed")
    got = StMem.preprocess(raw, RAW_RATE, CANONICAL_LEADS)
    assert got.dtype == np.float32 and got.shape == (12, 2250)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    order = np.random.default_rng(0).permutation(12)
    shuffled = tuple(CANONICAL_LEADS[i] for i in order)
    np.testing.assert_allclose(
        StMem.preprocess(raw[order], RAW_RATE, shuffled), expected, atol=1e-6
    )


def test_the_full_encoder_decoder_file_loads_as_the_encoder(tmp_path: Path) -> None:
    stored = official_file()
    encoder = stored["model"]
    full = {f"encoder.{key}": value for key, value in encoder.items()}
    full.update({
        "to_patch_embedding.2.weight": encoder["to_patch_embedding.2.weight"],
        "mask_embedding": torch.zeros(1, 1, 8),
        "decoder_pos_embed": torch.zeros(1, 32, 8),
        "to_decoder_embedding.weight": torch.zeros(8, 32),
        "decoder_blocks.0.attn.norm.weight": torch.ones(8),
        "decoder_norm.weight": torch.ones(8),
        "decoder_head.weight": torch.zeros(75, 8),
    })  # fmt: skip
    torch.save({**stored, "model": full}, tmp_path / "full.pth")
    np.testing.assert_allclose(
        embed(adapter(tmp_path / "full.pth")), load("embeddings"), rtol=0, atol=1e-5
    )


def test_a_fine_tuned_file_is_refused(tmp_path: Path) -> None:
    stored = official_file()
    stored["model"]["head.weight"] = torch.zeros(3, 32)
    stored["model"]["head.bias"] = torch.zeros(3)
    torch.save(stored, tmp_path / "finetuned.pth")
    with pytest.raises(WeightsMismatchError, match=r"fine-tuned ST-MEM file .*head\.weight"):
        adapter(tmp_path / "finetuned.pth")


def test_a_misshapen_weight_is_named(tmp_path: Path) -> None:
    stored = official_file()
    stored["model"]["block1.ff.fn.net.0.weight"] = torch.zeros(65, 32)
    torch.save(stored, tmp_path / "wrong.pth")
    with pytest.raises(WeightsMismatchError, match=r"blocks\.1\.mlp\.fc1\.weight \(65, 32\)"):
        adapter(tmp_path / "wrong.pth")


def test_preprocess_names_missing_leads_and_short_records() -> None:
    raw = load("raw")
    with pytest.raises(DataError, match=r"lacks lead.*V6"):
        StMem.preprocess(raw[:11], RAW_RATE, CANONICAL_LEADS[:11])
    with pytest.raises(DataError, match="at least 9 s"):
        StMem.preprocess(raw[:, : RAW_RATE * 8], RAW_RATE, CANONICAL_LEADS)


def test_features_are_one_step_per_patch() -> None:
    encoder = adapter(FIXTURE / "encoder.pth").network
    x = torch.from_numpy(load("inputs"))
    with torch.no_grad():
        features = encoder.features(x)
    assert encoder.feature_stride == 75
    assert features.shape == (1, 2250 // 75, encoder.feature_dim)
