"""AdamW parameter groups, the warm-up + cosine schedule and TrainConfig validation."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import nn

from bench.config import from_dict
from bench.errors import ConfigError
from bench.training.config import TrainConfig, autocast_dtype, resolve_device
from bench.training.optim import WarmupCosine, build_optimizer, parameter_groups


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(3, 4, 3)
        self.norm = nn.LayerNorm(4)
        self.batch_norm = nn.BatchNorm1d(4)
        self.linear = nn.Linear(4, 2, bias=False)
        self.token = nn.Parameter(torch.zeros(1, 1, 4))  # 3-D: decayed
        self.scale = nn.Parameter(torch.ones(4))  # 1-D: not decayed
        self.target = nn.Linear(4, 4)
        self.target.requires_grad_(False)
        self.tied = self.linear  # the same parameters twice


def test_parameter_groups_split_decay_from_no_decay() -> None:
    net = Net()
    groups = parameter_groups(net, weight_decay=0.05)
    decay, no_decay = ({id(p) for p in g["params"]} for g in groups)
    assert [g["weight_decay"] for g in groups] == [0.05, 0.0]
    assert decay == {id(net.conv.weight), id(net.linear.weight), id(net.token)}
    exempt = [net.conv.bias, net.norm.weight, net.norm.bias, net.batch_norm.weight]
    exempt += [net.batch_norm.bias, net.scale]
    assert no_decay == {id(p) for p in exempt}
    assert sum(len(g["params"]) for g in groups) == len(decay | no_decay)  # no duplicates
    assert id(net.target.weight) not in decay | no_decay  # frozen: left out


def test_a_module_can_name_parameters_that_are_decayed_whatever_their_shape() -> None:
    net = Net()
    net.decayed_parameters = ("scale",)
    net.norm.decayed_parameters = ("bias",)
    decay, no_decay = ({id(p) for p in g["params"]} for g in parameter_groups(net, 0.05))
    assert {id(net.scale), id(net.norm.bias)} <= decay
    assert {id(net.norm.weight), id(net.conv.bias)} <= no_decay  # not named: the shape rule
    assert id(net.batch_norm.bias) in no_decay  # a name counts only for its own module


def test_optimizer_needs_trainable_parameters() -> None:
    frozen = nn.Linear(2, 2).requires_grad_(False)
    with pytest.raises(ConfigError, match="no trainable parameters"):
        build_optimizer(frozen, 1e-3, 0.05, (0.9, 0.999), torch.device("cpu"))


def test_warmup_cosine_values() -> None:
    schedule = WarmupCosine(base_lr=1e-3, min_lr=1e-5, warmup_steps=10, total_steps=110)
    assert schedule(0) == pytest.approx(1e-4)  # first step: base / warmup
    assert schedule(4) == pytest.approx(5e-4)
    assert schedule(9) == pytest.approx(1e-3)  # end of warm-up
    assert schedule(10) == pytest.approx(1e-3)  # cosine starts at the base lr
    middle = 10 + 99 / 2
    assert schedule(int(middle)) == pytest.approx(
        1e-5 + (1e-3 - 1e-5) * 0.5 * (1 + math.cos(math.pi * (int(middle) - 10) / 99))
    )
    assert schedule(109) == pytest.approx(1e-5)  # the end
    values = [schedule(s) for s in range(10, 110)]
    assert all(a >= b for a, b in itertools.pairwise(values))


def test_schedule_without_warmup_starts_at_base() -> None:
    schedule = WarmupCosine(base_lr=2.0, min_lr=0.0, warmup_steps=0, total_steps=5)
    assert [schedule(s) for s in range(5)] == pytest.approx([2.0, 1.7071, 1.0, 0.2929, 0.0], 1e-3)


def test_train_config_steps() -> None:
    config = TrainConfig(epochs=10, warmup_epochs=2.5, max_steps=None)
    assert config.total_steps(20) == 200 and config.warmup_steps(20) == 50
    capped = TrainConfig(epochs=10, warmup_epochs=5, max_steps=30)
    assert capped.total_steps(20) == 30 and capped.warmup_steps(20) == 30


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"epoch": 3}, "unknown field TrainConfig.epoch .*did you mean 'epochs'"),
        ({"lr": "fast"}, "TrainConfig.lr must be float"),
        ({"batch_size": 1.5}, "batch_size must be int"),
        ({"precision": "fp16"}, "precision = 'fp16' is not one of"),
        ({"device": "tpu"}, "device = 'tpu' is not one of"),
        ({"betas": [0.9]}, "betas must have 2 items"),
        ({"lr": 0}, "train.lr must be positive"),
        ({"lr": -1e-3}, "train.lr = -0.001 is out of range"),
        ({"epochs": 0}, "train.epochs = 0 is out of range"),
        ({"warmup_epochs": 200}, "train.warmup_epochs = 200.0 is out of range"),
        ({"lr": 1e-4, "min_lr": 1e-3}, "train.min_lr = 0.001 is out of range"),
        ({"betas": [0.9, 1.0]}, r"train.betas\[1\] = 1.0 is out of range"),
        ({"grad_clip": 0}, "train.grad_clip = 0.0 is out of range"),
        ({"max_steps": 0}, "train.max_steps = 0 is out of range"),
        ({"checkpoint_every": 0}, "train.checkpoint_every = 0 is out of range"),
    ],
)
def test_bad_train_config_fails_clearly(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        from_dict(TrainConfig, data)


def test_precision_and_device_resolution() -> None:
    cpu = torch.device("cpu")
    assert autocast_dtype("auto", cpu) is None
    assert autocast_dtype("bf16", cpu) is torch.bfloat16
    assert autocast_dtype("auto", torch.device("cuda")) is torch.bfloat16
    assert autocast_dtype("fp32", torch.device("cuda")) is None
    assert resolve_device("cpu") == cpu
    if not torch.cuda.is_available():
        assert resolve_device("auto") == cpu
        with pytest.raises(ConfigError, match="no CUDA GPU"):
            resolve_device("cuda")
