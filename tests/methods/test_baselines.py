"""Baselines: registration, protocols, seeded construction, frozen random init, refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from bench.cli import main
from bench.config import from_dict, to_dict
from bench.encoders.base import ENCODERS, InputSpec
from bench.encoders.patch_transformer import PatchTransformer
from bench.encoders.xresnet1d import XResNet1d
from bench.errors import BenchError, ConfigError
from bench.method import METHODS, HeadSpec, MatchedConfig, Method
from methods.baseline import BaselineConfig
from methods.random_init import RandomInit
from methods.supervised import Supervised, SupervisedXResNet1d, SupervisedXResNet1dConfig

pytestmark = pytest.mark.numeric

SPEC = InputSpec(n_leads=12, n_samples=250, sampling_rate=100)
BASELINES = ("random_init", "supervised", "supervised_xresnet1d")


def build(name: str, seed: int = 0, **config: Any) -> Method:
    method_class = METHODS.get(name)
    torch.manual_seed(seed)
    return method_class(from_dict(method_class.config_class, config), SPEC)


def same_state(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[key], sb[key]) for key in sa)


def test_listed_as_baselines(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "methods"]) == 0
    lines = {line.split()[0]: line.split()[1] for line in capsys.readouterr().out.splitlines()}
    assert lines["name"] == "kind"  # the header
    assert all(lines[name] == "baseline" for name in BASELINES)
    assert lines["cpc"] == "SSL"


def test_protocols_and_no_pretraining() -> None:
    assert (METHODS.get("random_init"), METHODS.get("supervised")) == (RandomInit, Supervised)
    assert METHODS.get("supervised_xresnet1d") is SupervisedXResNet1d
    assert RandomInit.protocols == ("linear",)
    assert Supervised.protocols == SupervisedXResNet1d.protocols == ("finetune",)
    assert not any(METHODS.get(name).needs_pretraining for name in BASELINES)


@pytest.mark.parametrize(
    ("name", "config", "encoder_class", "dim"),
    [
        ("random_init", {}, PatchTransformer, 64),
        ("random_init", {"encoder": "xresnet1d"}, XResNet1d, 256),
        ("supervised", {}, PatchTransformer, 64),
        ("supervised_xresnet1d", {}, XResNet1d, 256),
    ],
)
def test_embed_shapes(name: str, config: dict[str, Any], encoder_class: type, dim: int) -> None:
    method = build(name, **config).eval()
    assert type(method.encoder) is encoder_class and method.encoder.embed_dim == dim
    with torch.no_grad():
        assert method.encoder.embed(torch.randn(3, 12, 250)).shape == (3, dim)


@pytest.mark.parametrize("name", BASELINES)
def test_construction_is_deterministic_under_a_seed(name: str) -> None:
    assert same_state(build(name, seed=1), build(name, seed=1))
    assert not same_state(build(name, seed=1), build(name, seed=2))


@pytest.mark.parametrize("encoder", ["patch_transformer", "xresnet1d"])
def test_random_init_keeps_exactly_the_seeded_initialisation(encoder: str) -> None:
    method = build("random_init", seed=5, encoder=encoder)
    torch.manual_seed(5)
    reference = ENCODERS.get(encoder).from_size("tiny", SPEC)
    assert same_state(method.encoder, reference)
    assert not any(parameter.requires_grad for parameter in method.parameters())
    method.train()  # what a training loop would do first
    method.on_step_end(1, 10)
    method.encoder.embed(torch.randn(4, 12, 250) * 3 + 1)  # BN stats would move in train mode
    assert not method.encoder.training
    assert same_state(method.encoder, reference)


def test_supervised_encoders_are_trainable_and_the_shared_backbone() -> None:
    supervised = build("supervised", seed=0)
    assert all(parameter.requires_grad for parameter in supervised.parameters())
    torch.manual_seed(0)
    assert same_state(supervised.encoder, PatchTransformer.from_size("tiny", SPEC))
    assert BaselineConfig(size="small").encoder_config() == PatchTransformer.sizes["small"]
    paper = SupervisedXResNet1dConfig(size="xresnet1d101").encoder_config()
    assert paper == XResNet1d.sizes["xresnet1d101"] and paper.blocks == (3, 4, 23, 3)


def test_encoder_overrides_mirror_an_ssl_wiring() -> None:
    method = build("random_init", encoder_overrides={"attention": "cropa", "patch_size": 50})
    assert method.encoder.config.attention == "cropa" and method.encoder.config.patch_size == 50


@pytest.mark.parametrize("name", BASELINES)
def test_loss_refuses_with_a_clear_error(name: str) -> None:
    with pytest.raises(BenchError, match=f"{name}' is a baseline without a pretraining objective"):
        build(name).loss(torch.randn(2, 12, 250))


@pytest.mark.parametrize(
    ("config_class", "data", "match"),
    [
        (BaselineConfig, {"sise": "tiny"}, "unknown field"),
        (BaselineConfig, {"size": "huge"}, "unknown PatchTransformer size 'huge'"),
        (BaselineConfig, {"encoder": "cnn"}, "is not one of"),
        (BaselineConfig, {"size": 3}, "size must be str"),
        (BaselineConfig, {"encoder_overrides": {"depht": 2}}, "unknown field"),
        (SupervisedXResNet1dConfig, {"encoder": "patch_transformer"}, "is not one of"),
        (SupervisedXResNet1dConfig, {"size": "base"}, "unknown XResNet1d size 'base'"),
    ],
)
def test_bad_config_is_a_clear_error(config_class: type, data: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        from_dict(config_class, data)


def test_xresnet_reference_rejects_another_backbone_built_directly() -> None:
    with pytest.raises(ConfigError, match="xresnet1d only"):
        SupervisedXResNet1dConfig(encoder="patch_transformer")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", BASELINES)
def test_bench_pretrain_refuses_baselines(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["pretrain", "--method", name, "--data", "synthetic", "--no-progress"]
    assert main(argv) == 2
    assert f"method {name!r} is a baseline without pretraining" in capsys.readouterr().err


def test_the_shared_loop_refuses_a_baseline_and_writes_nothing(tmp_path: Path) -> None:
    from bench.training.config import TrainConfig
    from bench.training.loop import pretrain

    method = METHODS.get("random_init")(METHODS.get("random_init").config_class(), SPEC)
    signals = np.zeros((8, SPEC.n_leads, SPEC.n_samples), dtype=np.float32)
    with pytest.raises(ConfigError, match="baseline without pretraining"):
        pretrain(
            method, signals, TrainConfig(epochs=1, batch_size=4, warmup_epochs=0), tmp_path / "run"
        )
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("backbone", "as_shared"), [("cpc", False), ("jepa", False), ("stmask", True)]
)
def test_matched_baselines_are_exactly_the_ssl_methods_own_network(
    backbone: str, as_shared: bool
) -> None:
    method_class = METHODS.get(backbone)
    config = from_dict(method_class.config_class, {})
    matched = MatchedConfig(backbone, to_dict(config))
    torch.manual_seed(3)
    reference = method_class(config, SPEC).encoder
    torch.manual_seed(3)
    frozen = RandomInit(matched, SPEC)
    torch.manual_seed(3)
    trained = Supervised(matched, SPEC)
    for baseline in (frozen, trained):
        assert type(baseline.encoder) is type(reference)
        assert baseline.encoder.config == reference.config
        assert same_state(baseline.encoder, reference)  # same init under the same seed
    assert not any(p.requires_grad for p in frozen.encoder.parameters())
    assert all(p.requires_grad for p in trained.encoder.parameters())
    shared = build("random_init", seed=3).encoder  # stmask's network is the shared backbone
    assert (type(shared) is type(reference) and same_state(shared, reference)) is as_shared


def test_matched_baselines_refuse_a_baseline_backbone_and_the_xresnet_reference() -> None:
    with pytest.raises(ConfigError, match="is a baseline"):
        RandomInit(MatchedConfig("supervised", {}), SPEC)
    assert RandomInit.builds_on_backbones and Supervised.builds_on_backbones
    assert not SupervisedXResNet1d.builds_on_backbones


def test_the_xresnet_reference_names_the_benchmark_head_and_input() -> None:
    head, regime = SupervisedXResNet1d.finetune_head, SupervisedXResNet1d.native_input
    assert head == HeadSpec(hidden=128, input_dropout=0.25, dropout=0.5)
    assert regime is not None
    assert (regime.rate, regime.leads, regime.window_s) == (100, "12", 2.5)
    assert Supervised.finetune_head is None and RandomInit.native_input is None
