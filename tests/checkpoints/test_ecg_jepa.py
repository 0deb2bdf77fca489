"""ECG-JEPA's adapters reproduce the official code: its representation and its preprocessing.

The fixture (tests/fixtures/checkpoints/ecg-jepa, SOURCE.md) holds a tiny official encoder with
random weights in the released file format, the official ``representation`` of two records and
the official preprocessing of two raw records (500 Hz cropped, 400 Hz resampled).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from bench.checkpoints.leakage import overlap
from bench.checkpoints.method import CheckpointConfig, CheckpointMethod
from bench.checkpoints.state_dict import WeightsMismatchError
from bench.checkpoints.weights import WEIGHTS_DIR_ENV, WeightsNotFoundError
from bench.data.signals import CANONICAL_LEADS
from bench.encoders.patch_transformer import set_attention_path
from bench.errors import DataError
from bench.method import METHODS

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "checkpoints" / "ecg-jepa"
WEIGHTS = FIXTURE / "official_tiny.pth"
NAMES = ("ecg-jepa-multiblock", "ecg-jepa-random")
RAW = {"raw_500hz": 500, "raw_400hz": 400}  # fixture record -> its rate, in preprocessed order


def adapter(name: str, weights: Path = WEIGHTS) -> CheckpointMethod:
    method_class = METHODS.get(name)
    config = CheckpointConfig(size="tiny", weights=str(weights))
    return method_class(config, method_class.official_input_spec())


def official_state() -> dict[str, torch.Tensor]:
    return dict(torch.load(WEIGHTS, weights_only=True)["encoder"])


@pytest.mark.parametrize("path", ["dense", "sparse"])
@pytest.mark.parametrize("name", NAMES)
def test_embed_is_the_official_representation(name: str, path: str) -> None:
    method = adapter(name)
    set_attention_path(method.encoder, path)
    waves = torch.from_numpy(np.load(FIXTURE / "preprocessed.npy"))
    with torch.no_grad():
        embedded = method.network.embed(waves)
        features = method.network.features(waves)
    expected = torch.from_numpy(np.load(FIXTURE / "representation.npy"))
    torch.testing.assert_close(embedded, expected, atol=1e-5, rtol=0)
    assert features.shape == (2, 50, 32) and method.network.feature_stride == 50
    torch.testing.assert_close(features.mean(dim=1), embedded, atol=1e-6, rtol=0)


@pytest.mark.parametrize("record", RAW)
def test_preprocess_is_the_official_preprocessing_in_any_lead_order(record: str) -> None:
    method_class = METHODS.get(NAMES[0])
    raw = np.load(FIXTURE / f"{record}.npy")
    expected = np.load(FIXTURE / "preprocessed.npy")[list(RAW).index(record)]
    prepared = method_class.preprocess(raw, RAW[record], CANONICAL_LEADS)
    assert prepared.dtype == np.float32 and prepared.shape == (8, 2500)
    np.testing.assert_allclose(prepared, expected, atol=1e-6, rtol=0)
    order = np.random.default_rng(0).permutation(len(CANONICAL_LEADS))
    shuffled = tuple(CANONICAL_LEADS[i] for i in order)
    reordered = method_class.preprocess(raw[order], RAW[record], shuffled)
    np.testing.assert_array_equal(reordered, prepared)


def test_preprocess_refuses_short_records_and_missing_leads() -> None:
    method_class = METHODS.get(NAMES[0])
    raw = np.load(FIXTURE / "raw_500hz.npy")
    with pytest.raises(DataError, match=r"lasts 9\.98 s .* at least 10 s"):
        method_class.preprocess(raw[:, :4990], 500, CANONICAL_LEADS)
    with pytest.raises(DataError, match="lacks leads V6"):
        method_class.preprocess(raw[:11], 500, CANONICAL_LEADS[:11])


def test_a_fine_tuned_file_is_refused(tmp_path: Path) -> None:
    # linear_probe_utils.FinetuningClassifier: the encoder under encoder.*, the head under fc.*
    tuned = {f"encoder.{key}": value for key, value in official_state().items()}
    tuned |= {"fc.fc.weight": torch.zeros(5, 32), "fc.fc.bias": torch.zeros(5)}
    path = tmp_path / "finetuned.pth"
    torch.save(tuned, path)
    with pytest.raises(WeightsMismatchError, match=r"finetuned\.pth: this is a fine-tuned .*fc\."):
        adapter(NAMES[0], path)


def test_a_misshapen_key_is_named(tmp_path: Path) -> None:
    state = official_state()
    state["encoder_blocks.blocks.1.mlp.fc1.weight"] = torch.zeros(64, 32)
    path = tmp_path / "misshapen.pth"
    torch.save({"encoder": state}, path)
    with pytest.raises(WeightsMismatchError, match=r"blocks\.1\.mlp\.fc1\.weight \(64, 32\)"):
        adapter(NAMES[0], path)


def test_a_file_with_other_positions_is_refused(tmp_path: Path) -> None:
    state = official_state()
    state["pos_embed"] = state["pos_embed"].flip(0)
    path = tmp_path / "learned.pth"
    torch.save({"encoder": state}, path)
    with pytest.raises(WeightsMismatchError, match=r"learned\.pth: 'pos_embed' is not the fixed"):
        adapter(NAMES[0], path)


def test_each_release_finds_its_own_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "multiblock_epoch100.pth").write_bytes(WEIGHTS.read_bytes())
    monkeypatch.setenv(WEIGHTS_DIR_ENV, str(tmp_path))
    method_class = METHODS.get("ecg-jepa-multiblock")
    method_class(CheckpointConfig(size="tiny"), method_class.official_input_spec())
    random_class = METHODS.get("ecg-jepa-random")
    with pytest.raises(WeightsNotFoundError, match=r"random_epoch100\.pth"):
        random_class(CheckpointConfig(size="tiny"), random_class.official_input_spec())


@pytest.mark.parametrize("name", NAMES)
def test_pretraining_corpus_flags_chapman_ningbo_and_code15_only(name: str) -> None:
    card = METHODS.get(name).card
    for seen in (["ningbo"], ["cinc2021"], ["code15"]):
        assert overlap(name, card, seen) is not None
    assert overlap(name, card, ["ptbxl"]) is None
