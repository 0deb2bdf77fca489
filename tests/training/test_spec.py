"""Pretraining run keys: stable across processes, sensitive to what changes the outcome."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import pytest

from bench.data.preprocess import Preprocessing
from bench.encoders.base import InputSpec
from bench.hashing import stable_hash
from bench.training.config import TrainConfig
from bench.training.spec import PretrainSpec, pretrain_key


@dataclasses.dataclass(frozen=True)
class Encoder:
    size: str = "tiny"
    depth: int = 2


@dataclasses.dataclass(frozen=True)
class MethodConfig:
    encoder: Encoder = Encoder()
    mask_ratio: float = 0.6


SPEC = PretrainSpec(
    method="jepa",
    method_config=MethodConfig(),
    dataset="ptbxl",
    data_fingerprint="abc123",
    preprocessing=Preprocessing(rate=100),
    input_spec=InputSpec(12, 250, 100),
    window_s=2.5,
    train=TrainConfig(epochs=5),
)


def test_key_is_short_hex_and_repeatable() -> None:
    key = pretrain_key(SPEC)
    assert len(key) == 12 and int(key, 16) >= 0
    assert pretrain_key(dataclasses.replace(SPEC)) == key


@pytest.mark.parametrize(
    "change",
    [
        {"method": "cpc"},
        {"method_config": MethodConfig(mask_ratio=0.7)},
        {"method_config": MethodConfig(encoder=Encoder(depth=3))},
        {"dataset": "synthetic"},
        {"data_fingerprint": "abc124"},
        {"preprocessing": Preprocessing(rate=100, normalize="record")},
        {"input_spec": InputSpec(12, 500, 100), "window_s": 5.0},
        {"train": TrainConfig(epochs=5, seed=1)},
        {"train": TrainConfig(epochs=5, lr=2e-4)},
    ],
)
def test_everything_that_changes_the_outcome_changes_the_key(change: dict[str, object]) -> None:
    assert pretrain_key(dataclasses.replace(SPEC, **change)) != pretrain_key(SPEC)


def test_execution_options_do_not_change_the_key() -> None:
    moved = TrainConfig(
        epochs=5, device="cpu", compile=True, cuda_graphs="never", checkpoint_every=7
    )
    assert pretrain_key(dataclasses.replace(SPEC, train=moved)) == pretrain_key(SPEC)


BENCH_ONLY_SPEC = """
from bench.data.preprocess import Preprocessing
from bench.encoders.base import InputSpec
from bench.training.spec import PretrainSpec, pretrain_key
from bench.training.config import TrainConfig

spec = PretrainSpec(
    method="m", method_config=TrainConfig(lr=3e-4), dataset="d", data_fingerprint="f",
    preprocessing=Preprocessing(rate=250, bandpass=(0.5, 40.0)), input_spec=InputSpec(8, 2500, 250),
    window_s=10.0, train=TrainConfig(epochs=100, seed=7),
)
key = pretrain_key(spec)
"""


def test_key_is_the_same_in_another_process() -> None:
    namespace: dict[str, object] = {}
    exec(BENCH_ONLY_SPEC, namespace)
    env = {**os.environ, "PYTHONHASHSEED": "123"}
    other = subprocess.run(
        [sys.executable, "-c", BENCH_ONLY_SPEC + "print(key)"],
        capture_output=True, text=True, check=True, env=env,
    )  # fmt: skip
    assert other.stdout.strip() == namespace["key"]


def test_key_hashes_the_documented_fields() -> None:
    document = SPEC.document()
    assert pretrain_key(SPEC) == stable_hash(json.loads(json.dumps(document)))
    assert document["train"]["seed"] == 0 and document["major_version"] == "0"
    assert document["split"] == "train" and document["method_config"]["encoder"]["size"] == "tiny"
    assert "device" not in document["train"]
