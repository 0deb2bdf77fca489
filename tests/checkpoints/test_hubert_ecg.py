"""HuBERT-ECG's adapters reproduce the official code: its representation and its preprocessing.

The fixture (tests/fixtures/checkpoints/hubert-ecg, SOURCE.md) holds a tiny official
``HuBERTECG`` with random weights as ``save_pretrained`` writes it (config.json +
model.safetensors), three raw records, their official preprocessing, and the official
representation and last hidden states of those inputs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from bench.checkpoints.catalogue import parameter_count
from bench.checkpoints.leakage import overlap
from bench.checkpoints.method import CheckpointConfig, CheckpointMethod
from bench.checkpoints.state_dict import WeightsMismatchError
from bench.checkpoints.weights import WEIGHTS_DIR_ENV, WeightsNotFoundError
from bench.data.signals import CANONICAL_LEADS
from bench.errors import DataError
from bench.method import METHODS

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "checkpoints" / "hubert-ecg"
WEIGHTS = FIXTURE / "model.safetensors"
NAMES = ("hubert-ecg-small", "hubert-ecg-base", "hubert-ecg-large")
RAW = {"raw_500hz": 500, "raw_360hz": 360, "raw_250hz_nan": 250}  # in preprocessed order


def adapter(weights: Path = WEIGHTS, name: str = NAMES[0]) -> CheckpointMethod:
    method_class = METHODS.get(name)
    config = CheckpointConfig(size="tiny", weights=str(weights))
    return method_class(config, method_class.official_input_spec())


def official_inputs() -> torch.Tensor:
    return torch.from_numpy(np.load(FIXTURE / "preprocessed.npy"))


def write_release(folder: Path, state: dict[str, torch.Tensor], **config: object) -> Path:
    """``state`` as a released model.safetensors, beside the fixture's config.json (edited)."""
    folder.mkdir(exist_ok=True)
    stored = json.loads((FIXTURE / "config.json").read_text()) | config
    (folder / "config.json").write_text(json.dumps(stored))
    save_file(state, folder / "model.safetensors")
    return folder / "model.safetensors"


@pytest.mark.parametrize("name", NAMES)
def test_embed_is_the_official_representation(name: str) -> None:
    encoder = adapter(name=name).network
    with torch.no_grad():
        embedded = encoder.embed(official_inputs())
        hidden = encoder.tokens(official_inputs())
    expected = torch.from_numpy(np.load(FIXTURE / "representation.npy"))
    torch.testing.assert_close(embedded, expected, atol=1e-5, rtol=0)
    official_hidden = torch.from_numpy(np.load(FIXTURE / "last_hidden_state.npy"))
    torch.testing.assert_close(hidden, official_hidden, atol=1e-5, rtol=0)


def test_features_average_over_leads_the_token_covering_each_step() -> None:
    encoder = adapter().network
    with torch.no_grad():
        features = encoder.features(official_inputs())
    hidden = torch.from_numpy(np.load(FIXTURE / "last_hidden_state.npy"))  # [3, 93, 32]
    assert encoder.feature_stride == 64 and features.shape == (3, 8, 32)
    # lead l's step k: token (500 l) // 64 + k; lead 11 ends on the last token (85 + 7 = 92)
    index = torch.tensor([[500 * lead // 64 + step for step in range(8)] for lead in range(12)])
    torch.testing.assert_close(features, hidden[:, index].mean(dim=1), atol=1e-5, rtol=0)


@pytest.mark.parametrize("record", RAW)
def test_preprocess_is_the_official_preprocessing_in_any_lead_order(record: str) -> None:
    method_class = METHODS.get(NAMES[0])
    raw = np.load(FIXTURE / f"{record}.npy")
    expected = np.load(FIXTURE / "preprocessed.npy")[list(RAW).index(record)]
    prepared = method_class.preprocess(raw, RAW[record], CANONICAL_LEADS)
    assert prepared.dtype == np.float32 and prepared.shape == (12, 500)
    np.testing.assert_allclose(prepared, expected, atol=1e-6, rtol=0)
    order = np.random.default_rng(0).permutation(len(CANONICAL_LEADS))
    shuffled = tuple(CANONICAL_LEADS[i] for i in order)
    reordered = method_class.preprocess(raw[order], RAW[record], shuffled)
    np.testing.assert_array_equal(reordered, prepared)


def test_preprocess_refuses_what_the_official_pipeline_cannot_take() -> None:
    method_class = METHODS.get(NAMES[0])
    raw = np.load(FIXTURE / "raw_500hz.npy")
    with pytest.raises(DataError, match=r"lasts 4\.90 s; HuBERT-ECG takes 5 s"):
        method_class.preprocess(raw[:, :2450], 500, CANONICAL_LEADS)
    with pytest.raises(DataError, match="lacks leads V6"):
        method_class.preprocess(raw[:11], 500, CANONICAL_LEADS[:11])
    with pytest.raises(DataError, match=r"at 90 Hz cannot take the official 0\.05-47 Hz"):
        method_class.preprocess(raw[:, ::5], 90, CANONICAL_LEADS)


def test_pretraining_heads_are_dropped_and_legacy_weight_norm_names_load(tmp_path: Path) -> None:
    state = load_file(WEIGHTS)
    assert {"masked_spec_embed", "final_proj.0.weight", "label_embedding.0.weight"} <= set(state)
    prefix = "encoder.pos_conv_embed.conv."
    state[prefix + "weight_g"] = state.pop(prefix + "parametrizations.weight.original0")
    state[prefix + "weight_v"] = state.pop(prefix + "parametrizations.weight.original1")
    encoder = adapter(write_release(tmp_path / "legacy", state)).network
    with torch.no_grad():
        embedded = encoder.embed(official_inputs())
    expected = torch.from_numpy(np.load(FIXTURE / "representation.npy"))
    torch.testing.assert_close(embedded, expected, atol=1e-5, rtol=0)


def test_a_fine_tuned_file_is_refused(tmp_path: Path) -> None:
    # HuBERTForECGClassification: the encoder under hubert_ecg.*, its head under classifier.*
    encoder = {k: v for k, v in load_file(WEIGHTS).items() if not k.startswith("final_proj")}
    tuned = {f"hubert_ecg.{key}": value for key, value in encoder.items()}
    tuned |= {"classifier.weight": torch.zeros(5, 32), "classifier.bias": torch.zeros(5)}
    path = tmp_path / "finetuned.safetensors"
    save_file(tuned, path)
    with pytest.raises(WeightsMismatchError, match=r"finetuned\.safetensors: this is a fine-tuned"):
        adapter(path)


def test_a_misshapen_key_is_named(tmp_path: Path) -> None:
    state = load_file(WEIGHTS)
    state["encoder.layers.1.feed_forward.intermediate_dense.weight"] = torch.zeros(48, 32)
    with pytest.raises(WeightsMismatchError, match=r"layers\.1\.feed_forward\.intermediate_dense"):
        adapter(write_release(tmp_path / "misshapen", state))


def test_a_released_config_of_another_architecture_is_refused(tmp_path: Path) -> None:
    path = write_release(tmp_path / "stable", load_file(WEIGHTS), do_stable_layer_norm=True)
    with pytest.raises(WeightsMismatchError, match=r"config\.json: .*do_stable_layer_norm True"):
        adapter(path)


def test_each_size_finds_its_own_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(WEIGHTS, tmp_path / "hubert-ecg-small.safetensors")
    monkeypatch.setenv(WEIGHTS_DIR_ENV, str(tmp_path))
    small = METHODS.get("hubert-ecg-small")
    small(CheckpointConfig(size="tiny"), small.official_input_spec())
    base = METHODS.get("hubert-ecg-base")
    with pytest.raises(WeightsNotFoundError, match=r"hubert-ecg-base\.safetensors"):
        base(CheckpointConfig(size="tiny"), base.official_input_spec())


@pytest.mark.parametrize(
    ("name", "encoder_parameters"),
    [("hubert-ecg-small", 30_209_152), ("hubert-ecg-base", 92_798_080),
     ("hubert-ecg-large", 187_643_776)],
)  # fmt: skip
def test_published_sizes_match_the_released_models(name: str, encoder_parameters: int) -> None:
    # the hub's fine-tuned releases count 30.3 M / 92.9 M: these plus a 164-label linear head
    method_class = METHODS.get(name)
    assert parameter_count(method_class) == encoder_parameters
    card = method_class.card
    assert card.hf_repo == f"Edoardo-BS/{name}" and card.hf_filename == "model.safetensors"


@pytest.mark.parametrize("name", NAMES)
def test_pretraining_corpus_flags_its_twelve_sources(name: str) -> None:
    card = METHODS.get(name).card
    for seen in (["ptbxl"], ["cinc2021"], ["code15"], ["mimic-iv-ecg"], ["sph"], ["samitrop"]):
        assert overlap(name, card, seen) is not None
    assert overlap(name, card, ["incart"]) is None and overlap(name, card, ["ludb"]) is None


def test_importing_the_adapter_does_not_import_transformers() -> None:
    code = "import sys, methods.checkpoints.hubert_ecg; print('transformers' in sys.modules)"
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
