"""``bench pretrain`` end to end on the synthetic dataset with a registered test method."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.cli import main
from bench.data.loading import load_dataset
from bench.training.checkpoint import load_method, read_checkpoint

PROFILE = """
description: test profile
preprocessing: {rate: 50}
window_s: 2.0
train: {epochs: 1, batch_size: 32, lr: 1.0e-3, warmup_epochs: 0, device: cpu}
methods:
  toy_masked:
    config: {hidden: 8}
    train: {lr: 2.0e-3}
"""


@pytest.fixture
def profile(tmp_path: Path) -> Path:
    path = tmp_path / "test_profile.yaml"
    path.write_text(PROFILE)
    return path


def pretrain_command(profile: Path, *extra: str) -> list[str]:
    return [
        "pretrain", "--method", "toy_masked", "--data", "synthetic", "--profile", str(profile),
        "--no-progress", "--set", "train.max_steps=4", *extra,
    ]  # fmt: skip


def test_pretrain_command_trains_once_on_the_training_folds(
    profile: Path, toys: Any, isolated_results: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(pretrain_command(profile, "--seed", "2", "--set", "method.mask_ratio=0.25")) == 0
    out = capsys.readouterr().out
    assert "loss: start" in out and "steps: 4/4" in out and "samples/s" in out
    runs = list((isolated_results / "pretrain").iterdir())
    assert len(runs) == 1 and runs[0].name.startswith("toy_masked-")
    checkpoint = runs[0] / "checkpoint.pt"
    assert f"checkpoint: {checkpoint}" in out
    state = read_checkpoint(checkpoint)
    train_records = len(load_dataset("synthetic").split_indices("train"))
    assert state["records"] == [train_records, 12, 500]  # folds 1-8 only, at 50 Hz
    assert state["train_config"]["lr"] == 2e-3 and state["train_config"]["seed"] == 2
    assert state["info"]["pretrain_key"] == runs[0].name.removeprefix("toy_masked-")
    method = load_method(checkpoint)
    assert method.config == toys.config(hidden=8, mask_ratio=0.25)
    assert (method.input_spec.n_leads, method.input_spec.n_samples) == (12, 100)

    assert main(pretrain_command(profile, "--seed", "2", "--set", "method.mask_ratio=0.25")) == 0
    assert "already pretrained" in capsys.readouterr().out
    assert main(pretrain_command(profile, "--seed", "3", "--set", "method.mask_ratio=0.25")) == 0
    assert len(list((isolated_results / "pretrain").iterdir())) == 2  # another seed, another run


def test_pretrain_command_reports_bad_input_in_one_line(
    profile: Path, toys: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(pretrain_command(profile, "--set", "train.lr=fast")) == 2
    assert "train.lr must be float" in capsys.readouterr().err
    assert main(pretrain_command(profile, "--set", "window_s=30")) == 2
    assert "window_s = 30.0 gives 1500 samples at 50 Hz" in capsys.readouterr().err
    assert main(["pretrain", "--method", "toy_maskd", "--data", "synthetic", "--profile",
                 str(profile)]) == 2  # fmt: skip
    assert "Did you mean 'toy_masked'" in capsys.readouterr().err
