"""Checkpoint files: atomic writes, loading a pretrained method/encoder, clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

import bench
from bench.atomic import CHECKSUM_SUFFIX
from bench.errors import UnknownNameError
from bench.training.checkpoint import (
    CHECKPOINT_FORMAT,
    CheckpointError,
    load_method,
    read_checkpoint,
    save_checkpoint,
)
from bench.training.config import TrainConfig
from bench.training.loop import pretrain

CONFIG = TrainConfig(epochs=2, batch_size=8, lr=1e-2, warmup_epochs=0, device="cpu")


@pytest.fixture
def trained(tmp_path: Path, toys: Any) -> tuple[Path, Any]:
    method = toys.build(hidden=12, mask_ratio=0.3)
    result = pretrain(method, toys.signals(), CONFIG, tmp_path / "run", progress=False)
    return result.checkpoint, method


def test_load_encoder_round_trip_gives_identical_embeddings(
    trained: tuple[Path, Any], toys: Any
) -> None:
    path, method = trained
    encoder = bench.load_encoder(path)
    assert not encoder.training and encoder.embed_dim == 12
    x = torch.from_numpy(toys.signals(n_records=5, seed=1)[:, :, :32])
    method.encoder.eval()
    with torch.no_grad():
        expected, got = method.encoder.embed(x), encoder.embed(x)
    assert got.shape == (5, 12)
    assert torch.equal(got, expected)


def test_load_method_restores_config_spec_and_every_weight(
    trained: tuple[Path, Any], toys: Any
) -> None:
    path, method = trained
    torch.manual_seed(0)
    before = torch.rand(3)
    torch.manual_seed(0)
    loaded = load_method(path)
    assert torch.equal(torch.rand(3), before)  # loading leaves the caller's RNG alone
    assert type(loaded) is toys.method
    assert loaded.config == toys.config(hidden=12, mask_ratio=0.3)
    assert loaded.input_spec == toys.spec
    for key, value in method.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_checkpoint_records_what_it_needs(trained: tuple[Path, Any]) -> None:
    state = read_checkpoint(trained[0])
    assert state["format"] == CHECKPOINT_FORMAT and state["finished"]
    assert state["method"] == "toy_masked" and state["step"] == state["total_steps"] == 12
    assert state["method_config"] == {"hidden": 12, "dropout": 0.1, "mask_ratio": 0.3}
    assert state["input_spec"] == {"n_leads": 3, "n_samples": 32, "sampling_rate": 16}
    assert state["train_config"]["lr"] == CONFIG.lr
    assert {"bench", "torch", "numpy", "python"} <= state["versions"].keys()
    assert {"torch", "cuda", "numpy", "python"} <= state["rng"].keys()


CKPT = "checkpoint.pt"


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "checkpoint.pt"
    save_checkpoint(path, {"method": "x", "method_config": {}, "input_spec": {}, "model": {}})
    save_checkpoint(path, {"method": "y", "method_config": {}, "input_spec": {}, "model": {}})
    assert read_checkpoint(path)["method"] == "y"
    assert sorted(p.name for p in path.parent.iterdir()) == [CKPT, f"{CKPT}{CHECKSUM_SUFFIX}"]


def test_failed_save_keeps_the_previous_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"method": "x", "method_config": {}, "input_spec": {}, "model": {}})
    with pytest.raises(Exception, match="pickle"):
        save_checkpoint(path, {"method": lambda: None})
    assert read_checkpoint(path)["method"] == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == [CKPT, f"{CKPT}{CHECKSUM_SUFFIX}"]


def test_missing_corrupt_and_foreign_files_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"checkpoint not found: .*nope\.pt"):
        bench.load_encoder(tmp_path / "nope.pt")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match=r"corrupt\.pt is unreadable or corrupt"):
        load_method(corrupt)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(CheckpointError, match="not an ecg-ssl-bench pretraining checkpoint"):
        load_method(foreign)


def test_truncated_checkpoint_fails_clearly(trained: tuple[Path, Any], tmp_path: Path) -> None:
    data = trained[0].read_bytes()
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="unreadable or corrupt"):
        load_method(truncated)


def test_unknown_method_name_fails_with_a_hint(trained: tuple[Path, Any], tmp_path: Path) -> None:
    state = read_checkpoint(trained[0])
    renamed = tmp_path / "renamed.pt"
    save_checkpoint(renamed, {**state, "method": "toy_maskd"})
    with pytest.raises(UnknownNameError, match=r"renamed\.pt.*Did you mean 'toy_masked'"):
        load_method(renamed)


def test_weights_that_do_not_fit_fail_clearly(trained: tuple[Path, Any], tmp_path: Path) -> None:
    state = read_checkpoint(trained[0])
    resized = tmp_path / "resized.pt"
    save_checkpoint(resized, {**state, "method_config": {**state["method_config"], "hidden": 8}})
    with pytest.raises(CheckpointError, match="does not fit method 'toy_masked'"):
        load_method(resized)
