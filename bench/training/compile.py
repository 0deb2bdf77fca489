"""``train.compile``: how the loop's objective is compiled, and the time compiling costs.

``compile_objective`` wraps the objective in ``torch.compile``. A method whose step has the
same shapes every step is compiled with static shapes (``dynamic=False``) and compiles once.
A method whose shapes change from step to step says so with the class attribute
``compile_dynamic = True`` (ECG-JEPA: the count of visible columns changes with each mask);
it is compiled with dynamic shapes from the first step, so it too compiles once instead of
once per shape (a step may still fall into a few graphs at a graph break, each compiled
once). Under DDP the wrapped module is compiled the same way.

``CompileClock`` tells apart the steps in which torch compiled something (dynamo's count of
compiled frames moved): their whole wall time is the run's compile time, reported beside the
step time (``PretrainResult.compile_s``, the log, ``bench perf``). The first compiled step
also runs once; on a CPU that is milliseconds against tens of seconds of compiling.

``train.cuda_graphs`` (``use_cuda_graphs``) adds CUDA graphs through torch's own cudagraph
trees: ``torch.compile(mode="reduce-overhead")``. They record the compiled step once per
distinct input shape and replay it after, which only pays where shapes repeat. The loop then
marks each step's start (``torch.compiler.cudagraph_mark_step_begin``) and keeps only copies
of the step's outputs (``History.add``), since a replay overwrites the previous outputs.
Recording a graph compiles no dynamo frame: its time stays in the step time, not compile_s.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from bench.errors import ConfigError
from bench.training.choices import CudaGraphs

log = logging.getLogger(__name__)


def wants_dynamic_shapes(module: nn.Module) -> bool:
    """Whether ``module`` (or the method inside an ``Objective``/DDP wrapper) varies shapes."""
    return any(getattr(type(part), "compile_dynamic", False) for part in module.modules())


def use_cuda_graphs(
    choice: CudaGraphs, device: torch.device, *, compiled: bool, dynamic: bool, ddp: bool = False
) -> bool:
    """Whether the compiled step runs as CUDA graphs under ``train.cuda_graphs = choice``.

    "auto": only a compiled step on a CUDA device with static shapes (``dynamic`` False),
    where one recorded graph serves every step. "always": also with dynamic shapes (one graph
    recorded per distinct shape, each at the cost of a recording and its memory; torch warns
    past 8 shapes); ConfigError where graphs cannot run (no ``compile``, not CUDA, DDP).
    "never": off. Never under DDP (``ddp``: inside torchrun's process group): the reducer's
    hooks run between the graphs, a pairing with open upstream issues
    (pytorch/pytorch#128218) that is not tested here.
    """
    if choice == "always":
        if not compiled:
            reason = "needs train.compile: true"
        elif device.type != "cuda":
            reason = f"needs a CUDA device, this run is on {device.type}"
        elif ddp:
            reason = "is not supported under DDP (torchrun)"
        else:
            return True
        raise ConfigError(f"train.cuda_graphs = 'always' {reason}; use 'auto' or 'never'")
    return choice == "auto" and compiled and device.type == "cuda" and not dynamic and not ddp


def compile_objective(
    objective: nn.Module, backend: str = "inductor", cuda_graphs: bool = False
) -> nn.Module:
    """``torch.compile`` of ``objective``: static shapes unless its method varies them.

    ``backend`` is torch.compile's (tests trace with "aot_eager", which skips code generation).
    ``cuda_graphs``: mode "reduce-overhead" (cudagraph trees; inductor only).
    """
    dynamic = wants_dynamic_shapes(objective)
    if cuda_graphs:
        log.info(
            "CUDA graphs on (torch.compile mode reduce-overhead)%s",
            ", one recorded per distinct shape" if dynamic else "",
        )
    return torch.compile(
        objective,
        dynamic=dynamic,
        backend=backend,
        mode="reduce-overhead" if cuda_graphs else None,
    )


def prepare_objective(
    objective: nn.Module,
    compile: bool,
    cuda_graphs: CudaGraphs,
    device: torch.device,
    ddp: bool = False,
) -> tuple[nn.Module, bool]:
    """What the loop calls each step: ``objective``, compiled where ``compile`` (with CUDA
    graphs where ``use_cuda_graphs`` says so); and whether its steps run as CUDA graphs."""
    dynamic = wants_dynamic_shapes(objective)
    graphs = use_cuda_graphs(cuda_graphs, device, compiled=compile, dynamic=dynamic, ddp=ddp)
    return (compile_objective(objective, cuda_graphs=graphs) if compile else objective), graphs


def compiled_frames() -> int:
    """Frames dynamo has compiled in this process so far (each compile and recompile)."""
    from torch._dynamo.utils import counters

    return int(counters["frames"]["total"])


class CompileClock:
    """Adds up the wall time of the steps that compiled; ``compile_s`` is the sum."""

    def __init__(self) -> None:
        self.compile_s = 0.0
        self.compiling_steps = 0
        self._frames = compiled_frames()

    def add_step(self, seconds: float) -> bool:
        """Record a finished step of ``seconds``; True when it compiled something."""
        frames = compiled_frames()
        compiled = frames != self._frames
        self._frames = frames
        if compiled:
            self.compile_s += seconds
            self.compiling_steps += 1
        return compiled
