"""train.cuda_graphs: when the compiled step runs as CUDA graphs, and that the loop stays right."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from bench.config import from_dict
from bench.encoders.base import InputSpec
from bench.errors import ConfigError
from bench.training import compile as compile_module
from bench.training.choices import CUDA_GRAPHS
from bench.training.compile import compile_objective, use_cuda_graphs
from bench.training.config import TrainConfig
from bench.training.loop import Objective, TrainingLoop, pretrain
from bench.training.state import seed_everything
from tests.doubles.toys import toy_signals

CPU, CUDA = torch.device("cpu"), torch.device("cuda")
ON = {("auto", "cuda", "static"), ("always", "cuda", "static"), ("always", "cuda", "dynamic")}
FAILS = {("always", "cpu", "static"), ("always", "cpu", "dynamic")}


@pytest.mark.parametrize("choice", CUDA_GRAPHS)
@pytest.mark.parametrize("device", [CPU, CUDA], ids=["cpu", "cuda"])
@pytest.mark.parametrize("shapes", ["static", "dynamic"])
def test_graphs_only_for_a_compiled_cuda_step(
    choice: Any, device: torch.device, shapes: str
) -> None:
    case = (choice, device.type, shapes)
    dynamic = shapes == "dynamic"
    if case in FAILS:
        with pytest.raises(ConfigError, match=r"train\.cuda_graphs = 'always' needs a CUDA device"):
            use_cuda_graphs(choice, device, compiled=True, dynamic=dynamic)
    else:
        assert use_cuda_graphs(choice, device, compiled=True, dynamic=dynamic) == (case in ON)
    if choice != "always":  # never without compile, never under DDP
        assert not use_cuda_graphs(choice, device, compiled=False, dynamic=dynamic)
        assert not use_cuda_graphs(choice, device, compiled=True, dynamic=dynamic, ddp=True)


@pytest.mark.parametrize(
    ("compiled", "ddp", "message"),
    [(False, False, "needs train.compile: true"), (True, True, "is not supported under DDP")],
)
def test_always_fails_where_graphs_cannot_run(compiled: bool, ddp: bool, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"train.cuda_graphs = 'always' {message}")):
        use_cuda_graphs("always", CUDA, compiled=compiled, dynamic=False, ddp=ddp)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"cuda_graphs": "on"}, "train.cuda_graphs = 'on' is not one of auto, always, never"),
        ({"cuda_graphs": "always"}, "'always' needs train.compile: true and a CUDA device"),
        ({"cuda_graphs": "always", "compile": True, "device": "cpu"}, "device 'cpu'"),
    ],
)
def test_config_rejects_bad_values(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        TrainConfig(**fields)


def test_yaml_on_is_a_boolean_and_rejected_by_name() -> None:
    with pytest.raises(ConfigError, match=r"train\.cuda_graphs = True is not one of"):
        from_dict(TrainConfig, {"cuda_graphs": True}, where="train")


def test_default_is_auto_and_no_part_of_what_is_learned() -> None:
    assert TrainConfig().cuda_graphs == "auto"
    forced = TrainConfig(compile=True, device="cuda", cuda_graphs="always")
    assert forced.learning_dict() == TrainConfig().learning_dict()


@pytest.mark.parametrize(("graphs", "mode"), [(False, None), (True, "reduce-overhead")])
def test_graphs_are_torch_compiles_reduce_overhead_mode(
    monkeypatch: pytest.MonkeyPatch, toys: Any, graphs: bool, mode: str | None
) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(torch, "compile", lambda module, **kwargs: calls.append(kwargs))
    compile_objective(Objective(toys.build()), cuda_graphs=graphs)
    assert calls == [{"dynamic": False, "backend": "inductor", "mode": mode}]


class OverwritingGraphs(nn.Module):
    """Stands in for the compiled objective under CUDA graphs: each call overwrites the tensors
    the call before returned, as a replay reuses its output memory."""

    def __init__(self, objective: nn.Module, events: list[str]):
        super().__init__()
        self.objective = objective
        self.events = events
        self.previous: list[Tensor] = []

    def forward(self, batch: Tensor) -> dict[str, Tensor]:
        for value in self.previous:
            value.detach().fill_(-1.0)
        self.events.append("call")
        output = self.objective(batch)
        self.previous = list(output.values())
        return output


def test_loop_marks_each_step_and_keeps_copies(
    tmp_path: Path, toys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = TrainConfig(
        epochs=1, batch_size=8, warmup_epochs=0, grad_clip=1.0, device="cpu", compile=True
    )
    eager = TrainConfig(**{**config.__dict__, "compile": False})
    reference = pretrain(toys.build(), toys.signals(), eager, tmp_path / "eager", progress=False)

    events: list[str] = []
    modes: list[str | None] = []

    def fake_compile(module: nn.Module, **kwargs: Any) -> nn.Module:
        modes.append(kwargs["mode"])
        return OverwritingGraphs(module, events)

    monkeypatch.setattr(torch, "compile", fake_compile)
    monkeypatch.setattr(torch.compiler, "cudagraph_mark_step_begin", lambda: events.append("mark"))
    monkeypatch.setattr(
        compile_module,
        "use_cuda_graphs",
        lambda choice, device, *, compiled, dynamic, ddp: compiled,
    )  # as on a GPU
    graphed = pretrain(toys.build(), toys.signals(), config, tmp_path / "graphs", progress=False)
    assert modes == ["reduce-overhead"]
    assert events == ["mark", "call"] * 6  # 48 records / batch 8
    for key in ("loss", "visible", "grad_norm"):
        kept = [row[key] for row in graphed.history]
        assert kept == [row[key] for row in reference.history], key
        assert -1.0 not in kept


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_graphs_train_as_without_and_compile_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """hybrid (static shapes), compiled with inductor, 6 steps with graphs and without."""
    from torch._dynamo.utils import counters

    from methods.hybrid_mae_contrastive import HybridConfig, HybridMAEContrastive

    monkeypatch.setattr(torch._inductor.config, "fallback_random", True)  # the same draws
    spec = InputSpec(3, 40, 20)
    fields = {"patch_size": 10, "decoder_dim": 16, "projection_hidden": 16, "projection_dim": 8}
    runs: dict[str, tuple[list[float], dict[str, Tensor]]] = {}
    for choice in ("never", "auto"):
        torch._dynamo.reset()
        counters.clear()
        seed_everything(0)
        method = HybridMAEContrastive(from_dict(HybridConfig, fields), spec)
        config = TrainConfig(
            epochs=1, batch_size=8, warmup_epochs=0, device="cuda", precision="fp32",
            compile=True, cuda_graphs=choice,
        )  # fmt: skip
        (tmp_path / choice).mkdir()
        loop = TrainingLoop(method, toy_signals(), config, tmp_path / choice / "ckpt.pt", {})
        seed_everything(0)
        result = loop.run(progress=False, stop_at_step=None, log_every=1)
        assert loop.cuda_graphs == (choice == "auto")
        assert loop.compile_clock.compiling_steps == 1, "recompiled after the first step"
        if loop.cuda_graphs:
            skips = counters["inductor"]["cudagraph_skips"]
            assert skips == 0, "a graph ran without CUDA graphs (TORCH_LOGS=perf_hints says why)"
        weights = {k: v.detach().cpu().clone() for k, v in method.state_dict().items()}
        runs[choice] = ([row["loss"] for row in result.history], weights)
    (losses_off, weights_off), (losses_on, weights_on) = runs["never"], runs["auto"]
    assert len(losses_on) == 6
    torch.testing.assert_close(losses_on, losses_off, rtol=1e-4, atol=1e-5)
    for key, value in weights_off.items():
        torch.testing.assert_close(weights_on[key], value, rtol=1e-4, atol=1e-5, msg=key)
