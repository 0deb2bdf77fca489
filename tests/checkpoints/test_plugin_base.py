"""The published-checkpoint plugin base: finding weights, checked loading, refusing a
fine-tuned file, the public API and the leakage audit (on a toy checkpoint)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import bench
from bench.checkpoints.catalogue import catalogue_row, checkpoint_method, parameter_count
from bench.checkpoints.hub import fetch
from bench.checkpoints.leakage import overlap, parts
from bench.checkpoints.method import CheckpointConfig
from bench.checkpoints.state_dict import WeightsMismatchError
from bench.checkpoints.weights import WeightsNotFoundError, resolve_weights
from bench.errors import DataError, UnknownNameError
from tests.doubles.toy_checkpoint import ToyCheckpoint, toy_checkpoint, toy_spec, write_official

__all__ = ["toy_checkpoint"]


@pytest.fixture
def no_weights_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BENCH_WEIGHTS_DIR", raising=False)
    monkeypatch.delenv("BENCH_WEIGHTS", raising=False)


def test_weights_are_found_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_weights_env: None
) -> None:
    folder = tmp_path / "dir"
    folder.mkdir()
    in_dir = write_official(folder / ToyCheckpoint.card.file_name)
    flagged = write_official(tmp_path / "flagged.pt")
    configured = write_official(tmp_path / "configured.pt")
    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(folder))
    assert resolve_weights("toy-checkpoint", ToyCheckpoint.card) == in_dir
    monkeypatch.setenv("BENCH_WEIGHTS", f"toy-checkpoint={flagged}")
    assert resolve_weights("toy-checkpoint", ToyCheckpoint.card) == flagged
    assert resolve_weights("toy-checkpoint", ToyCheckpoint.card, str(configured)) == configured


def test_missing_weights_say_where_to_get_and_put_them(no_weights_env: None) -> None:
    with pytest.raises(WeightsNotFoundError) as caught:
        resolve_weights("toy-checkpoint", ToyCheckpoint.card, "/nowhere/x.pt")
    message = str(caught.value)
    for part in (ToyCheckpoint.card.url, "toy_checkpoint.pt", "BENCH_WEIGHTS_DIR", "--weights"):
        assert part in message
    assert "/nowhere/x.pt" in message


def test_loaded_encoder_equals_the_official_weights(tmp_path: Path, no_weights_env: None) -> None:
    path = write_official(tmp_path / "w.pt", seed=3)
    method = ToyCheckpoint(CheckpointConfig(weights=str(path)), toy_spec())
    official = torch.load(path)["model"]
    for key, value in method.encoder.state_dict().items():
        torch.testing.assert_close(value, official["backbone." + key], rtol=0, atol=0)
    assert not method.encoder.training


def test_a_file_that_does_not_fit_names_the_keys(tmp_path: Path, no_weights_env: None) -> None:
    path = write_official(tmp_path / "w.pt", size="tiny")
    with pytest.raises(WeightsMismatchError, match=r"mismatched .*conv\.weight") as caught:
        ToyCheckpoint(CheckpointConfig(weights=str(path)), toy_spec())
    assert str(path) in str(caught.value)
    state = torch.load(path)["model"]
    del state["backbone.norm.bias"]
    state["backbone.extra"] = torch.zeros(1)
    torch.save({"model": state}, path)
    with pytest.raises(WeightsMismatchError, match=r"missing \(.*norm\.bias.*unexpected .*extra"):
        ToyCheckpoint(CheckpointConfig(size="tiny", weights=str(path)), toy_spec())


def test_a_fine_tuned_file_is_refused(tmp_path: Path, no_weights_env: None) -> None:
    path = write_official(tmp_path / "ft.pt", **{"classifier.weight": torch.zeros(5, 8)})
    with pytest.raises(WeightsMismatchError, match=r"fine-tuned .*classifier\.weight"):
        ToyCheckpoint(CheckpointConfig(weights=str(path)), toy_spec())


def test_a_wrapping_without_the_official_key_is_named(tmp_path: Path, no_weights_env: None) -> None:
    path = tmp_path / "w.pt"
    torch.save({"state_dict": {}}, path)
    with pytest.raises(WeightsMismatchError, match="under 'model'; found state_dict"):
        ToyCheckpoint(CheckpointConfig(weights=str(path)), toy_spec())


def test_public_api_loads_by_name(
    tmp_path: Path, toy_checkpoint: type[ToyCheckpoint], no_weights_env: None
) -> None:
    path = write_official(tmp_path / "w.pt", seed=1)
    encoder = bench.load_encoder("toy-checkpoint", weights=path)
    raw = np.random.default_rng(0).normal(size=(12, 5000)).astype(np.float32)
    x = encoder.preprocess(raw, rate=500)
    assert x.shape == (12, 250) and x.dtype == np.float32
    with torch.no_grad():
        z = encoder.embed(torch.from_numpy(x)[None])
        reference = ToyCheckpoint(CheckpointConfig(weights=str(path)), toy_spec()).encoder
        torch.testing.assert_close(z, reference.embed(torch.from_numpy(x)[None]))
    assert len(encoder.weights_sha256) == 64
    with pytest.raises(UnknownNameError, match="not a published checkpoint"):
        checkpoint_method("random_init")


def test_catalogue_row_counts_parameters_and_finds_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, toy_checkpoint: type[ToyCheckpoint]
) -> None:
    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.delenv("BENCH_WEIGHTS", raising=False)
    assert catalogue_row(ToyCheckpoint).local == "missing"
    write_official(tmp_path / ToyCheckpoint.card.file_name)
    row = catalogue_row(ToyCheckpoint)
    built = ToyCheckpoint.untrained_encoder(CheckpointConfig(), toy_spec())
    assert (
        row.parameters
        == parameter_count(ToyCheckpoint)
        == sum(p.numel() for p in built.parameters())
    )
    assert row.local.endswith("toy_checkpoint.pt")
    assert "PhysioNet/CinC 2021" in row.corpus


def test_fetch_fails_at_once_with_the_url_and_where_to_put_the_file() -> None:
    card = ToyCheckpoint.card
    hosted = type(card)(**{**card.__dict__, "hf_repo": "ecg-ssl-bench/none", "hf_filename": "w.pt"})
    with pytest.raises(DataError) as caught:
        fetch("toy-checkpoint", hosted, timeout_s=5)
    message = str(caught.value)
    assert "https://huggingface.co/ecg-ssl-bench/none/resolve/main/w.pt" in message
    assert "BENCH_WEIGHTS_DIR" in message
    with pytest.raises(DataError, match=r"not hosted on the Hugging Face hub.*example\.org"):
        fetch("toy-checkpoint", card)


@pytest.mark.parametrize(
    ("sources", "corpus", "shared"),
    [
        (("ptbxl",), ("cinc2021",), ("ptbxl",)),
        (("ptbxl",), ("cinc2020",), ("ptbxl",)),
        (("chapman",), ("chapman", "ningbo", "code15"), ("chapman",)),
        (("cpsc",), ("cinc2021",), ("cpsc2018",)),
        (("cinc2021",), ("chapman-ningbo",), ("chapman", "ningbo")),
        (("ludb",), ("cinc2021", "mimic-iv-ecg"), None),
        (("chapman",), ("cinc2020",), None),
    ],
)
def test_leakage_expands_unions(
    sources: tuple[str, ...], corpus: tuple[str, ...], shared: tuple[str, ...] | None
) -> None:
    card = type(ToyCheckpoint.card)(**{**ToyCheckpoint.card.__dict__, "corpus": corpus})
    found = overlap("toy", card, sources)
    assert (found.shared if found else None) == shared


def test_leakage_note_names_the_dataset_and_the_corpus() -> None:
    note = ToyCheckpoint.seen_in_training(("ptbxl",))
    assert note == "PTB-XL was in toy-checkpoint's pretraining corpus (PhysioNet/CinC 2021)"
    assert ToyCheckpoint.seen_in_training(("synthetic",)) is None
    assert parts("cinc2021") >= {"ptbxl", "cpsc2018", "georgia", "chapman", "ningbo"}
